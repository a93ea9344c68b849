#include "inet/ip_address.hpp"

#include <algorithm>
#include <ostream>

namespace taube::inet {

namespace {

constexpr std::size_t kV6Groups = 8;
// The longest text parse() can accept: six full groups and a dotted quad,
// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255". Longer input is refused before any work.
constexpr std::size_t kMaxV6Text = 45;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One decimal field of a dotted quad: 1-3 digits, no leading zero unless it is "0", <= 255.
std::optional<std::uint8_t> parse_v4_field(std::string_view f) {
  if (f.empty() || f.size() > 3) return std::nullopt;
  if (f.size() > 1 && f[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (const char c : f) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 255) return std::nullopt;
  return static_cast<std::uint8_t>(v);
}

std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view s) {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t dot = s.find('.');
    const bool last = i == 3;
    // Exactly three dots: the last field must have none, the others must end at one.
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const auto field = parse_v4_field(s.substr(0, dot));
    if (!field) return std::nullopt;
    out[i] = *field;
    if (!last) s.remove_prefix(dot + 1);
  }
  return out;
}

// Colon-separated groups of one side of "::" (or of the whole address when there is none).
// Each group is 1-4 hex digits; an empty group is an error (a lone leading or trailing colon).
// When `allow_v4` the last piece may be a dotted quad, worth two groups (RFC 4291 §2.2 item 3).
bool parse_groups(std::string_view s, bool allow_v4, std::array<std::uint16_t, kV6Groups>& out,
                  std::size_t& n) {
  n = 0;
  if (s.empty()) return true;
  while (true) {
    const std::size_t colon = s.find(':');
    const std::string_view piece = s.substr(0, colon);
    const bool last = colon == std::string_view::npos;
    if (piece.find('.') != std::string_view::npos) {
      if (!last || !allow_v4 || n + 2 > kV6Groups) return false;
      const auto v4 = parse_v4(piece);
      if (!v4) return false;
      out[n++] = static_cast<std::uint16_t>((*v4)[0] << 8 | (*v4)[1]);
      out[n++] = static_cast<std::uint16_t>((*v4)[2] << 8 | (*v4)[3]);
      return true;
    }
    if (piece.empty() || piece.size() > 4 || n + 1 > kV6Groups) return false;
    unsigned v = 0;
    for (const char c : piece) {
      const int h = hex_value(c);
      if (h < 0) return false;
      v = v << 4 | static_cast<unsigned>(h);
    }
    out[n++] = static_cast<std::uint16_t>(v);
    if (last) return true;
    s.remove_prefix(colon + 1);
  }
}

std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view s) {
  if (s.size() < 2 || s.size() > kMaxV6Text) return std::nullopt;
  std::array<std::uint16_t, kV6Groups> head{}, tail{};
  std::size_t nh = 0, nt = 0;
  const std::size_t dc = s.find("::");
  if (dc == std::string_view::npos) {
    // Uncompressed: exactly eight groups (the dotted quad counting two).
    if (!parse_groups(s, true, head, nh) || nh != kV6Groups) return std::nullopt;
  } else {
    const std::string_view before = s.substr(0, dc);
    const std::string_view after = s.substr(dc + 2);
    // At most one "::" (RFC 4291 §2.2 item 2); a dotted quad only at the very end.
    if (after.find("::") != std::string_view::npos) return std::nullopt;
    if (!parse_groups(before, false, head, nh) || !parse_groups(after, true, tail, nt))
      return std::nullopt;
    // "::" stands for one or more zero groups, so at most seven are written.
    if (nh + nt > kV6Groups - 1) return std::nullopt;
  }
  std::array<std::uint16_t, kV6Groups> groups{};
  std::copy_n(head.begin(), nh, groups.begin());
  std::copy_n(tail.begin(), nt, groups.end() - static_cast<std::ptrdiff_t>(nt));
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < kV6Groups; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(groups[i] & 0xff);
  }
  return out;
}

void append_v4(std::string& out, const std::uint8_t* o) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) out += '.';
    out += std::to_string(o[i]);
  }
}

void append_hex_group(std::string& out, std::uint16_t g) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (g >> shift) & 0xfu;
    if (nibble != 0 || started || shift == 0) {
      out += kHex[nibble];
      started = true;
    }
  }
}

}  // namespace

IpAddress IpAddress::from_v4(const std::array<std::uint8_t, 4>& octets) {
  IpAddress a;
  a.family_ = Family::V4;
  std::copy(octets.begin(), octets.end(), a.octets_.begin());
  return a;
}

IpAddress IpAddress::from_v6(const std::array<std::uint8_t, 16>& octets) {
  IpAddress a;
  a.family_ = Family::V6;
  a.octets_ = octets;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // A colon can only be IPv6; without one only a dotted quad is possible.
  if (text.find(':') == std::string_view::npos) {
    if (auto v4 = parse_v4(text)) return from_v4(*v4);
    return std::nullopt;
  }
  if (auto v6 = parse_v6(text)) return from_v6(*v6);
  return std::nullopt;
}

bool IpAddress::is_v4_mapped() const {
  if (!is_v6()) return false;
  for (std::size_t i = 0; i < 10; ++i)
    if (octets_[i] != 0) return false;
  return octets_[10] == 0xff && octets_[11] == 0xff;
}

IpAddress IpAddress::unmapped() const {
  if (!is_v4_mapped()) return *this;
  return from_v4({octets_[12], octets_[13], octets_[14], octets_[15]});
}

IpAddress IpAddress::mapped() const {
  if (!is_v4()) return *this;
  std::array<std::uint8_t, 16> o{};
  o[10] = 0xff;
  o[11] = 0xff;
  std::copy_n(octets_.begin(), 4, o.begin() + 12);
  return from_v6(o);
}

bool IpAddress::is_loopback() const {
  const IpAddress a = unmapped();
  if (a.is_v4()) return a.octets_[0] == 127;
  for (std::size_t i = 0; i < 15; ++i)
    if (a.octets_[i] != 0) return false;
  return a.octets_[15] == 1;
}

bool IpAddress::is_unspecified() const {
  return std::all_of(octets_.begin(), octets_.end(), [](std::uint8_t o) { return o == 0; });
}

std::string IpAddress::to_string() const {
  std::string out;
  if (is_v4()) {
    append_v4(out, octets_.data());
    return out;
  }
  if (is_v4_mapped()) {  // RFC 5952 §5
    out = "::ffff:";
    append_v4(out, octets_.data() + 12);
    return out;
  }
  std::array<std::uint16_t, kV6Groups> g{};
  for (std::size_t i = 0; i < kV6Groups; ++i)
    g[i] = static_cast<std::uint16_t>(octets_[2 * i] << 8 | octets_[2 * i + 1]);
  // RFC 5952 §4.2: the longest run of zero groups, the first one on a tie (§4.2.3), and only
  // a run of two or more (§4.2.2).
  std::size_t best_start = 0, best_len = 0;
  for (std::size_t i = 0; i < kV6Groups;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < kV6Groups && g[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_len = 0;
  for (std::size_t i = 0; i < kV6Groups; ++i) {
    if (best_len > 0 && i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    append_hex_group(out, g[i]);
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const IpAddress& a) {
  return os << a.to_string();
}

}  // namespace taube::inet
