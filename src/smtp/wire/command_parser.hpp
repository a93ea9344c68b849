// Splits one command line into verb and argument (RFC 5321 §4.1.1). The line excludes <CRLF>.
#pragma once

#include <string_view>

namespace taube::smtp {

enum class Verb {
  Helo,
  Ehlo,
  Mail,
  Rcpt,
  Data,
  Bdat,
  Rset,
  Noop,
  Quit,
  Vrfy,
  Expn,
  Help,
  Etrn,
  Starttls,
  Auth,
  Lhlo,     // LMTP only (RFC 2033 §4.1)
  Unknown,  // a well-formed word that is not a command Taube knows
  Invalid,  // not a command line at all: empty, NUL or other control octets, non-ASCII verb
};

struct Command {
  Verb verb = Verb::Invalid;
  std::string_view verb_text;  // as sent
  // Everything after the verb and the single separating space, trailing spaces/tabs removed.
  // For MAIL and RCPT the "FROM:" / "TO:" prefix is still part of it.
  std::string_view argument;
};

// Verbs are case-insensitive (RFC 5321 §2.4). NUL and bare CR in the line make it Invalid;
// non-ASCII octets are only allowed in the argument (SMTPUTF8 addresses, checked later).
Command parse_command(std::string_view line);

// Strips a case-insensitive prefix such as "FROM:" from `arg`; allows spaces after the colon
// (many clients send "MAIL FROM: <a@b>"). Returns false when the prefix is missing.
bool strip_keyword_prefix(std::string_view& arg, std::string_view prefix);

std::string_view verb_name(Verb verb);

}  // namespace taube::smtp
