// ASCII helpers for the wire codec. SMTP verbs, keywords, domains and reply codes are ASCII and
// case-insensitive in ASCII only (RFC 5321 §2.4), so none of these consult the C locale (unlike
// <cctype>, whose answers depend on setlocale() and which is undefined for negative chars).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace taube::smtp {

constexpr bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_ascii_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
constexpr bool is_ascii_lower(char c) {
  return c >= 'a' && c <= 'z';
}
constexpr bool is_ascii_alpha(char c) {
  return is_ascii_upper(c) || is_ascii_lower(c);
}
// RFC 5321 §4.1.2 Let-dig.
constexpr bool is_ascii_alnum(char c) {
  return is_ascii_alpha(c) || is_ascii_digit(c);
}
constexpr bool is_ascii_xdigit(char c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// Printable ASCII without SP, %d33-126 (RFC 5234 VCHAR).
constexpr bool is_ascii_graphic(char c) {
  return c >= '!' && c <= '~';
}
// %d0-31 and DEL (RFC 5234 CTL).
constexpr bool is_ascii_control(char c) {
  return (c >= 0 && c < 0x20) || c == 0x7f;
}
// True when every octet of `s` is below 0x80.
constexpr bool is_ascii(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

constexpr char ascii_to_lower(char c) {
  return is_ascii_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr char ascii_to_upper(char c) {
  return is_ascii_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
}

// ASCII lowercase / uppercase copies; other octets (UTF-8) are kept as they are.
inline std::string ascii_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_to_lower(c);
  return r;
}
inline std::string ascii_upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_to_upper(c);
  return r;
}

// ASCII case-insensitive equality (SMTP verbs, keywords and domains, RFC 5321 §2.4).
constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_to_lower(a[i]) != ascii_to_lower(b[i])) return false;
  return true;
}

// ASCII case-insensitive prefix test.
constexpr bool ascii_istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii_iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace taube::smtp
