// ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 esmtp-param), with the extensions Taube
// advertises: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

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

// xtext (RFC 3461 §4): printable ASCII except '+' and '=', with "+XX" hex escapes.
std::optional<std::string> decode_xtext(std::string_view in);
std::string encode_xtext(std::string_view in);
// utf-8-addr-xtext (RFC 6533 §3), the ORCPT form for addr-type "utf-8": UTF-8 and \x{HEX}.
std::optional<std::string> decode_utf8_addr_xtext(std::string_view in);

}  // namespace taube::smtp
