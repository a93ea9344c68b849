// ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 esmtp-param), with the extensions Taube
// advertises: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "smtp/wire/format_error.hpp"
#include "smtp/wire/reply.hpp"

namespace taube::smtp {

enum class BodyType { SevenBit, EightBitMime };
enum class DsnRet { Full, Headers };

struct MailParams {
  std::optional<std::uint64_t> size;   // SIZE=
  BodyType body = BodyType::SevenBit;  // BODY=
  bool smtputf8 = false;               // SMTPUTF8
  std::optional<DsnRet> ret;           // RET=FULL|HDRS
  std::optional<std::string> envid;    // ENVID=, decoded from xtext
  std::optional<std::string> auth;     // AUTH=<mailbox> (RFC 4954 §5), kept verbatim
  friend bool operator==(const MailParams&, const MailParams&) = default;
};

// NOTIFY bits (RFC 3461 §4.1).
enum NotifyFlags : unsigned {
  NotifyNever = 1,
  NotifySuccess = 2,
  NotifyFailure = 4,
  NotifyDelay = 8
};

struct RcptParams {
  unsigned notify = 0;                       // 0: not given
  std::optional<std::string> orcpt_type;     // "rfc822" or "utf-8"
  std::optional<std::string> orcpt_address;  // decoded from xtext / utf-8-addr-xtext
  friend bool operator==(const RcptParams&, const RcptParams&) = default;
};

// RFC 3461 §4.4: the ENVID value (xtext, as sent) is at most 100 characters.
inline constexpr std::size_t kMaxEnvidLength = 100;
// RFC 3461 §4.2: the ORCPT address (decoded) is at most 500 characters.
inline constexpr std::size_t kMaxOrcptLength = 500;

// Which extensions the session advertised (EHLO) and therefore accepts parameters for.
struct ParamPolicy {
  bool esmtp = true;  // false after HELO: no parameters are accepted at all
  bool dsn = true;
  bool smtputf8 = true;
  bool eight_bit_mime = true;
  bool auth = false;
};

// Parses the parameter list after the path ("SIZE=100 BODY=8BITMIME"). Keywords are
// case-insensitive; a repeated keyword, a malformed value or xtext is 501 5.5.4; an unknown or
// unadvertised keyword is 555 5.5.4 (RFC 5321 §4.1.1.11).
tl::expected<MailParams, Reply> parse_mail_params(std::string_view params,
                                                  const ParamPolicy& policy);
tl::expected<RcptParams, Reply> parse_rcpt_params(std::string_view params,
                                                  const ParamPolicy& policy);

// The client side: the parameter list for MAIL / RCPT, each parameter with a leading SP, "" when
// there is none, in a fixed order: " SIZE=123 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=xtext AUTH=x"
// and " NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;xtext". BODY=7BIT, the default, is not written
// (a server without 8BITMIME would refuse the keyword). parse_*_params reads the result back as
// the same value. Nothing is dropped or shortened: a value without a valid wire form is an error:
//  * ENVID: empty, or longer than kMaxEnvidLength once xtext-encoded -> BadValue / ValueTooLong;
//  * AUTH: empty, or not an esmtp-value of printable ASCII without "=" -> BadValue (it is sent
//    verbatim; RFC 4954 §5 makes it xtext or "<>", which never contains "=");
//  * NOTIFY: bits other than the four flags, or NEVER with another flag -> BadValue;
//  * ORCPT: only one of type and address set, a type that is not 1*(ALPHA / DIGIT / "-"), an empty
//    address, an address over kMaxOrcptLength -> BadValue / ValueTooLong; for type "rfc822" the
//    address must be printable US-ASCII (RFC 3461 §4.2), for "utf-8" valid UTF-8 that
//    encode_utf8_addr_xtext can represent -> BadValue otherwise.
tl::expected<std::string, FormatError> format_mail_params(const MailParams& params);
tl::expected<std::string, FormatError> format_rcpt_params(const RcptParams& params);

// xtext (RFC 3461 §4): printable ASCII except '+' and '=', with "+XX" hex escapes.
std::optional<std::string> decode_xtext(std::string_view in);
std::string encode_xtext(std::string_view in);
// utf-8-addr-xtext (RFC 6533 §3), the ORCPT form for addr-type "utf-8": UTF-8 and \x{HEX}.
std::optional<std::string> decode_utf8_addr_xtext(std::string_view in);
// The 7-bit form (safe without SMTPUTF8): QCHAR as is, everything else as \x{HEX} (uppercase,
// at least two digits). nullopt when `utf8` is not valid UTF-8, is empty, or holds a code point
// that RFC 6533 §3 HEXPOINT has no form for: U+0000 and the controls U+000A-000F and
// U+001A-001F (CR and LF among them; nothing that decodes to a line break can be sent).
std::optional<std::string> encode_utf8_addr_xtext(std::string_view utf8);

}  // namespace taube::smtp
