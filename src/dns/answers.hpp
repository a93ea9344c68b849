// What a DNS lookup answered, as plain values: the resolver (src/net/resolver.hpp) fills them,
// the route planner (route.hpp) decides from them. Pure: no sockets, no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inet/ip_address.hpp"

namespace taube::dns {

// The three outcomes delivery cares about. NoData (the name exists, no record of that type) is
// Ok with no records: RFC 5321 §5.1 treats it differently from NXDOMAIN.
enum class Rcode : std::uint8_t {
  Ok,
  NxDomain,
  ServFail,  // SERVFAIL, a timeout, a DNSSEC failure, REFUSED, any other error: try again later
};

std::string_view to_string(Rcode r);

struct MxRecord {
  std::uint16_t preference = 0;
  // Lower-case, without the trailing dot; "" for the root "." (a null MX, RFC 7505).
  std::string exchange;
  friend bool operator==(const MxRecord&, const MxRecord&) = default;
};

struct MxAnswer {
  Rcode rcode = Rcode::ServFail;
  std::vector<MxRecord> records;
  std::string reason;  // why it failed, for logs and bounces ("" when Ok)
};

struct AddressAnswer {
  Rcode rcode = Rcode::ServFail;
  std::vector<inet::IpAddress> addresses;
  std::string reason;
};

// A host or domain name as compared here: ASCII lower-case, one trailing dot removed.
std::string normalize_name(std::string_view name);

// MX RDATA (RFC 1035 §3.3.9): PREFERENCE (16 bits) and EXCHANGE as uncompressed wire labels
// (unbound hands out rdata decompressed). nullopt when malformed: truncated, a label over 63
// octets, a name over 255 octets, a compression pointer, or octets after the name.
std::optional<MxRecord> parse_mx_rdata(std::span<const std::uint8_t> rdata);

// A (4 octets, RFC 1035 §3.4.1) or AAAA (16 octets, RFC 3596 §2.2) RDATA; nullopt otherwise.
std::optional<inet::IpAddress> parse_address_rdata(std::span<const std::uint8_t> rdata, bool ipv6);

// A DNS server to forward to ([dns] servers): "192.0.2.53", "192.0.2.53:5353", "2001:db8::53"
// or "[2001:db8::53]:5353"; port 53 when none is given.
struct ServerAddress {
  inet::IpAddress address;
  std::uint16_t port = 53;
};
std::optional<ServerAddress> parse_server(std::string_view spec);

}  // namespace taube::dns
