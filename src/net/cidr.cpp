#include "net/cidr.hpp"

#include <charconv>

namespace taube::net {

namespace {
std::array<unsigned char, 16> to_bytes(const asio::ip::address& a, bool& v6) {
  std::array<unsigned char, 16> b{};
  if (a.is_v4()) {
    v6 = false;
    const auto v4 = a.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), b.begin());
  } else {
    const auto v6a = a.to_v6();
    if (v6a.is_v4_mapped()) {  // ::ffff:192.0.2.1 matches 192.0.2.0/24
      v6 = false;
      const auto v4 = asio::ip::make_address_v4(asio::ip::v4_mapped, v6a).to_bytes();
      std::copy(v4.begin(), v4.end(), b.begin());
    } else {
      v6 = true;
      b = v6a.to_bytes();
    }
  }
  return b;
}
}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  c.text_ = std::string(text);
  const auto slash = text.find('/');
  asio::error_code ec;
  const auto addr = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  c.bytes_ = to_bytes(addr, c.v6_);
  const unsigned max = c.v6_ ? 128 : 32;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    const auto p = text.substr(slash + 1);
    unsigned v = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || r.ec != std::errc{} || r.ptr != p.data() + p.size() || v > max)
      return std::nullopt;
    c.prefix_ = v;
  }
  return c;
}

bool Cidr::contains(const asio::ip::address& addr) const {
  bool v6 = false;
  const auto b = to_bytes(addr, v6);
  if (v6 != v6_) return false;
  unsigned bits = prefix_;
  for (std::size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const unsigned mask = (0xFFu << (8 - take)) & 0xFFu;
    if ((b[i] & mask) != (bytes_[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace taube::net
