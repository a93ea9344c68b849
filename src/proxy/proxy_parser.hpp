// HAProxy's PROXY protocol, versions 1 and 2 ("proxy-protocol.txt", 2020/03/05 revision; section
// numbers below refer to it): a stateless parser over the first octets of a connection.
//
// Theory of operation. A listener configured for PROXY peeks (MSG_PEEK) at the connection's
// first octets and calls parse_proxy_header() on everything it has seen so far. The parser never
// looks past the header, so with implicit TLS the ClientHello that follows in the same segment
// stays in the socket: after Complete the caller consumes exactly header_size octets. Until then
// it gets Incomplete with the total size worth waiting for (`need`), or Invalid as soon as the
// octets seen cannot start a valid header (a client that says "EHLO" is refused at once), after
// which the connection must be dropped (§2: "MUST not try to guess whether the protocol header
// is present"). The same prefix always gives the same result, and a longer input never turns a
// Complete or Invalid result into another one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inet/ip_address.hpp"

namespace taube::proxy {

// v1's longest line, CRLF included: "PROXY UNKNOWN" with two full IPv6 addresses and ports (§2.1).
inline constexpr std::size_t kV1MaxLength = 107;
// v2's fixed part: 12-octet signature, version/command, family/transport, 16-bit length (§2.2).
inline constexpr std::size_t kV2FixedLength = 16;
// Default bound on a whole v2 header (16 + length field). The protocol allows 16 + 65535; the
// spec keeps addresses within 536 octets (§2), but TLVs are not bounded by that: an SSL TLV
// with a certificate CN, cipher and versions, an AUTHORITY (SNI, up to 255), a UNIQUE_ID (up to
// 128) and ALPN add up to roughly 900 octets. 4096 leaves ample room for them while bounding
// what the listener must peek per connection.
inline constexpr std::size_t kDefaultMaxV2Header = 4096;

struct ProxyLimits {
  // Which versions the listener accepts; a header of the other version is Invalid as soon as
  // its signature shows it.
  bool accept_v1 = true;
  bool accept_v2 = true;
  // Upper bound on 16 + the v2 length field; a larger header is Invalid after its first 16
  // octets, before the rest is waited for.
  std::size_t max_v2_header = kDefaultMaxV2Header;
  // §2.2.3: when a PP2_TYPE_CRC32C TLV is present, verify it and refuse a mismatch.
  bool verify_crc32c = true;

  // The most octets parse_proxy_header() can need: the size of the caller's peek buffer.
  std::size_t max_header_size() const {
    return max_v2_header > kV1MaxLength ? max_v2_header : kV1MaxLength;
  }
};

enum class ProxyCommand { Proxy, Local };

// TLV types registered in §2.2 (the value of Tlv::type).
namespace tlv_type {
inline constexpr std::uint8_t kAlpn = 0x01;
inline constexpr std::uint8_t kAuthority = 0x02;
inline constexpr std::uint8_t kCrc32c = 0x03;
inline constexpr std::uint8_t kNoop = 0x04;
inline constexpr std::uint8_t kUniqueId = 0x05;
inline constexpr std::uint8_t kSsl = 0x20;
inline constexpr std::uint8_t kNetns = 0x30;
}  // namespace tlv_type

// One v2 Type-Length-Value vector, kept as received (the value's octets in a std::string). The
// parser checks only that it fits in the header; its meaning is for the caller.
struct Tlv {
  std::uint8_t type = 0;
  std::string value;
  friend bool operator==(const Tlv&, const Tlv&) = default;
};

struct ProxyHeader {
  ProxyCommand command = ProxyCommand::Local;
  int version = 0;  // 1 or 2 in a Complete result
  // The original client (source) and the address it connected to (destination). Present only
  // for v1 TCP4/TCP6 and v2 PROXY over AF_INET/AF_INET6 with STREAM. Absent for v2 LOCAL, v1
  // UNKNOWN, and v2 PROXY with AF_UNSPEC, AF_UNIX, DGRAM or an UNSPEC transport: then the caller
  // keeps the socket's own addresses (§2.1 UNKNOWN, §2.2 LOCAL and "falls back to UNSPEC").
  // Addresses are as sent: "TCP6 ::ffff:192.0.2.1" stays v4-mapped (see IpAddress::unmapped()).
  std::optional<inet::IpAddress> source;
  std::optional<inet::IpAddress> destination;
  std::uint16_t source_port = 0;  // 0 when there are no addresses
  std::uint16_t destination_port = 0;
  // v2 PROXY only (never for LOCAL or AF_UNSPEC, whose block is ignored): the TLVs after the
  // addresses, in order, unknown types included.
  std::vector<Tlv> tlvs;

  // The first TLV of that type, or nullptr.
  const Tlv* find_tlv(std::uint8_t type) const;

  friend bool operator==(const ProxyHeader&, const ProxyHeader&) = default;
};

enum class ParseStatus { Incomplete, Complete, Invalid };

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  // Complete: the header's length; the octets after it are not part of it. 0 otherwise.
  std::size_t header_size = 0;
  // Incomplete: call again once at least this many octets (in total) are available; always more
  // than the input's size and never more than the header will turn out to be. v1: one more
  // octet (the line ends at the first CRLF); v2: 16, then 16 + its length field. 0 otherwise.
  std::size_t need = 0;
  ProxyHeader header;  // Complete only
  // Invalid: a short reason for the log, in static storage (ASCII, no CR/LF). Empty otherwise.
  std::string_view error;

  friend bool operator==(const ParseResult&, const ParseResult&) = default;
};

// Parses the PROXY header at the start of `data` (a prefix of the connection's first octets).
// Never reads past the header and never throws.
ParseResult parse_proxy_header(std::span<const char> data, const ProxyLimits& limits = {});

// "tcp4 192.0.2.1:56324 -> 198.51.100.1:25" and the like, for the log.
std::string describe(const ProxyHeader& h);

std::string_view to_string(ParseStatus s);
std::ostream& operator<<(std::ostream& os, ParseStatus s);
std::ostream& operator<<(std::ostream& os, const ParseResult& r);

}  // namespace taube::proxy
