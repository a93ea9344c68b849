// A network in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3): "192.0.2.0/24", "2001:db8::/32",
// or a bare address meaning that one host. Used for lists of trusted clients (relay networks,
// PROXY senders) the way Postfix's mynetworks is.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "inet/ip_address.hpp"

namespace taube::inet {

class Cidr {
 public:
  // "<address>/<prefix>" or "<address>" (= /32 or /128). The address as IpAddress::parse takes
  // it; the prefix decimal without sign or leading zeros, at most 32 (IPv4) or 128 (IPv6).
  // Host bits past the prefix may be set and are cleared ("192.0.2.77/24" is 192.0.2.0/24),
  // as Postfix does for mynetworks. A v4-mapped IPv6 network of prefix >= 96
  // ("::ffff:10.0.0.0/104") is stored as the IPv4 network it describes (10.0.0.0/8), so that
  // both spellings behave the same. nullopt for anything else.
  static std::optional<Cidr> parse(std::string_view text);

  // The network of `prefix_length` leading bits of `address` (host bits cleared); nullopt if
  // the length is too long for the family.
  static std::optional<Cidr> from(const IpAddress& address, unsigned prefix_length);

  // Whether `addr` lies in this network. A v4-mapped address is matched as the IPv4 address it
  // carries, so for every address a: contains(a) == contains(a.unmapped()); a dual-stack
  // listener (which sees ::ffff:192.0.2.1) and an IPv4 one (192.0.2.1) decide alike. An IPv6
  // network never contains an IPv4 address, not even ::/0 (also Postfix's behaviour).
  bool contains(const IpAddress& addr) const;

  // The network address (host bits zero) and the prefix length.
  const IpAddress& network() const { return network_; }
  unsigned prefix_length() const { return prefix_; }

  // Canonical text: network().to_string() + "/" + prefix, always with the prefix.
  std::string to_string() const;

  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  IpAddress network_;
  unsigned prefix_ = 32;
};

std::ostream& operator<<(std::ostream& os, const Cidr& c);

}  // namespace taube::inet
