// The client side of esmtp_params.hpp: MAIL/RCPT parameters and the xtext encodings, written so
// that parse_mail_params / parse_rcpt_params read them back as the same values.
#include <cstdint>

#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::smtp {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

// Decodes the UTF-8 sequence at s[i] (already checked well-formed); advances i.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
  std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k <= n; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n + 1;
  return cp;
}

// RFC 6533 §3 QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e: graphic ASCII but "+", "=", "\".
bool is_qchar(std::uint32_t cp) {
  return cp >= 0x21 && cp <= 0x7e && cp != '+' && cp != '=' && cp != '\\';
}

// The ASCII code points HEXPOINT has a form for: %x01-09, %x10-19, SP, "+", "=", "\", DEL.
bool ascii_has_hexpoint(std::uint32_t cp) {
  return (cp >= 0x01 && cp <= 0x09) || (cp >= 0x10 && cp <= 0x19) || cp == 0x20 || cp == '+' ||
         cp == '=' || cp == '\\' || cp == 0x7f;
}

// esmtp-value = 1*(%d33-60 / %d62-126) (RFC 5321 §4.1.2), ASCII only.
bool is_esmtp_value(std::string_view v) {
  if (v.empty()) return false;
  for (const char c : v)
    if (!is_ascii_graphic(c) || c == '=') return false;
  return true;
}

}  // namespace

std::optional<std::string> encode_utf8_addr_xtext(std::string_view utf8) {
  if (utf8.empty() || !is_valid_utf8(utf8)) return std::nullopt;
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const std::uint32_t cp = next_code_point(utf8, i);
    if (is_qchar(cp)) {
      out.push_back(static_cast<char>(cp));
      continue;
    }
    if (cp < 0x80 && !ascii_has_hexpoint(cp)) return std::nullopt;
    // EmbeddedUnicodeChar = "\x{" HEXPOINT "}", HEXPOINT without leading zeros beyond two digits.
    char digits[6];
    int n = 0;
    for (std::uint32_t v = cp; v != 0 || n < 2; v >>= 4) digits[n++] = kHex[v & 15];
    out.append("\\x{");
    while (n > 0) out.push_back(digits[--n]);
    out.push_back('}');
  }
  return out;
}

tl::expected<std::string, FormatError> format_mail_params(const MailParams& p) {
  std::string out;
  if (p.size) out.append(" SIZE=").append(std::to_string(*p.size));           // RFC 1870 §3
  if (p.body == BodyType::EightBitMime) out.append(" BODY=8BITMIME");         // RFC 6152 §2
  if (p.smtputf8) out.append(" SMTPUTF8");                                    // RFC 6531 §3.4
  if (p.ret) out.append(*p.ret == DsnRet::Full ? " RET=FULL" : " RET=HDRS");  // RFC 3461 §4.3
  if (p.envid) {
    // RFC 3461 §4.4: ENVID=xtext, at most 100 characters as sent. An empty ENVID has no form
    // ("ENVID=" is a syntax error).
    if (p.envid->empty()) return tl::unexpected(FormatError::BadValue);
    const std::string x = encode_xtext(*p.envid);
    if (x.size() > kMaxEnvidLength) return tl::unexpected(FormatError::ValueTooLong);
    out.append(" ENVID=").append(x);
  }
  if (p.auth) {
    // RFC 4954 §5: AUTH=xtext-mailbox or AUTH=<>; sent verbatim, so it must be an esmtp-value.
    if (!is_esmtp_value(*p.auth)) return tl::unexpected(FormatError::BadValue);
    out.append(" AUTH=").append(*p.auth);
  }
  return out;
}

tl::expected<std::string, FormatError> format_rcpt_params(const RcptParams& p) {
  std::string out;
  if (p.notify != 0) {
    // RFC 3461 §4.1: NOTIFY=NEVER, or a comma list of SUCCESS, FAILURE, DELAY.
    constexpr unsigned kAll = NotifyNever | NotifySuccess | NotifyFailure | NotifyDelay;
    if ((p.notify & ~kAll) != 0 || ((p.notify & NotifyNever) && p.notify != NotifyNever))
      return tl::unexpected(FormatError::BadValue);
    out.append(" NOTIFY=");
    if (p.notify == NotifyNever) {
      out.append("NEVER");
    } else {
      bool first = true;
      for (const auto& [flag, name] :
           {std::pair{NotifySuccess, "SUCCESS"}, std::pair{NotifyFailure, "FAILURE"},
            std::pair{NotifyDelay, "DELAY"}}) {
        if ((p.notify & flag) == 0) continue;
        if (!first) out.push_back(',');
        out.append(name);
        first = false;
      }
    }
  }
  if (p.orcpt_type.has_value() != p.orcpt_address.has_value())
    return tl::unexpected(FormatError::BadValue);
  if (p.orcpt_type) {
    // RFC 3461 §4.2: ORCPT=addr-type ";" xtext; RFC 6533 §3 adds "utf-8" with its own escapes.
    const std::string& type = *p.orcpt_type;
    const std::string& addr = *p.orcpt_address;
    if (type.empty() || addr.empty()) return tl::unexpected(FormatError::BadValue);
    for (const char c : type)
      if (!is_ascii_alnum(c) && c != '-') return tl::unexpected(FormatError::BadValue);
    if (addr.size() > kMaxOrcptLength) return tl::unexpected(FormatError::ValueTooLong);
    std::string value;
    if (ascii_iequals(type, "utf-8")) {
      auto x = encode_utf8_addr_xtext(addr);
      if (!x) return tl::unexpected(FormatError::BadValue);
      value = std::move(*x);
    } else {
      // RFC 3461 §4.2: an rfc822 address is printable US-ASCII (graphic and SP) before xtext.
      if (ascii_iequals(type, "rfc822"))
        for (const char c : addr)
          if (c != ' ' && !is_ascii_graphic(c)) return tl::unexpected(FormatError::BadValue);
      value = encode_xtext(addr);
    }
    out.append(" ORCPT=").append(type).append(";").append(value);
  }
  return out;
}

}  // namespace taube::smtp
