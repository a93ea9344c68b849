// A client network in CIDR notation ("192.0.2.0/24", "2001:db8::/32", or a single address).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <asio/ip/address.hpp>

namespace taube::net {

class Cidr {
 public:
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const asio::ip::address& addr) const;
  const std::string& text() const { return text_; }

 private:
  bool v6_ = false;
  std::array<unsigned char, 16> bytes_{};
  unsigned prefix_ = 0;
  std::string text_;
};

}  // namespace taube::net
