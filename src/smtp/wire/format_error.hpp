// Why a client command could not be formatted. The formatters never write a line the peer would
// misread (a CR or LF in an argument would end the command early and start another one: command
// injection), and never drop or shorten a value on their own: the caller decides what to do.
#pragma once

#include <string_view>

namespace taube::smtp {

enum class FormatError {
  BadDomain,          // the HELO/EHLO/LHLO/ETRN argument is not a domain or address literal
  BadAddress,         // the path has no wire form that parse_path reads back as the same path
  Utf8NeedsSmtputf8,  // a non-ASCII address without SMTPUTF8 (RFC 6531 §3.2: do not send it)
  BadValue,           // a parameter or argument has no valid wire form (empty, CTL, bad syntax)
  ValueTooLong,       // a value over its RFC limit (ENVID 100, ORCPT 500 octets)
  LineTooLong,        // AUTH with this initial response would exceed 512 octets (RFC 4954 §4)
};

constexpr std::string_view describe(FormatError e) {
  switch (e) {
    case FormatError::BadDomain:
      return "not a domain or address literal";
    case FormatError::BadAddress:
      return "address cannot be written as an SMTP path";
    case FormatError::Utf8NeedsSmtputf8:
      return "non-ASCII address without SMTPUTF8";
    case FormatError::BadValue:
      return "value cannot be written on the command line";
    case FormatError::ValueTooLong:
      return "value exceeds its length limit";
    case FormatError::LineTooLong:
      return "command line would exceed 512 octets";
  }
  return "unknown format error";
}

}  // namespace taube::smtp
