#include "inet/cidr.hpp"

#include <array>
#include <ostream>

namespace taube::inet {

namespace {

// Whether the first `bits` bits of a and b are equal (both at least ceil(bits/8) octets).
bool same_prefix(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b, unsigned bits) {
  for (std::size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const unsigned mask = (0xffu << (8 - take)) & 0xffu;
    if (((a[i] ^ b[i]) & mask) != 0) return false;
    bits -= take;
  }
  return true;
}

// A prefix length: 1-3 decimal digits, no leading zero unless it is "0".
std::optional<unsigned> parse_prefix(std::string_view p) {
  if (p.empty() || p.size() > 3) return std::nullopt;
  if (p.size() > 1 && p[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (const char c : p) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

}  // namespace

std::optional<Cidr> Cidr::from(const IpAddress& address, unsigned prefix_length) {
  IpAddress a = address;
  unsigned len = prefix_length;
  if (a.is_v4_mapped() && len >= 96) {
    a = a.unmapped();
    len -= 96;
  }
  const unsigned max = a.is_v4() ? 32 : 128;
  if (len > max) return std::nullopt;
  // Clear the host bits.
  const auto in = a.bytes();
  std::array<std::uint8_t, 16> o{};
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned first_bit = static_cast<unsigned>(i) * 8;
    if (first_bit + 8 <= len) {
      o[i] = in[i];
    } else if (first_bit < len) {
      o[i] = static_cast<std::uint8_t>(in[i] & ((0xffu << (8 - (len - first_bit))) & 0xffu));
    }
  }
  Cidr c;
  c.network_ = a.is_v4() ? IpAddress::from_v4({o[0], o[1], o[2], o[3]}) : IpAddress::from_v6(o);
  c.prefix_ = len;
  return c;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned len = addr->is_v4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    const auto p = parse_prefix(text.substr(slash + 1));
    if (!p) return std::nullopt;
    len = *p;
  }
  return from(*addr, len);
}

bool Cidr::contains(const IpAddress& addr) const {
  const IpAddress a = addr.unmapped();
  if (a.family() != network_.family()) return false;
  return same_prefix(a.bytes(), network_.bytes(), prefix_);
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_);
}

std::ostream& operator<<(std::ostream& os, const Cidr& c) {
  return os << c.to_string();
}

}  // namespace taube::inet
