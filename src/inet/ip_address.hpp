// An IPv4 or IPv6 address as a value: strict text parsing (RFC 4291 §2.2 for IPv6, the dotted
// quad without leading zeros for IPv4), canonical printing (RFC 5952), comparison. Pure: no
// socket API, so the PROXY parser and the policy code can use it without Asio.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace taube::inet {

enum class Family : std::uint8_t { V4, V6 };

class IpAddress {
 public:
  // The unspecified IPv4 address 0.0.0.0.
  IpAddress() = default;

  static IpAddress from_v4(const std::array<std::uint8_t, 4>& octets);
  static IpAddress from_v6(const std::array<std::uint8_t, 16>& octets);

  // Parses an address in text form. IPv4: exactly four decimal fields 0-255 separated by single
  // dots, no leading zeros ("0" alone is fine), since "010" reads as octal to inet_aton and as
  // decimal elsewhere. IPv6: RFC 4291 §2.2: one to eight groups of 1-4 hex digits (either case),
  // at most one "::" standing for one or more zero groups, optionally ending in a dotted quad
  // for the low 32 bits ("::ffff:192.0.2.1"). No zone ids ("%eth0"), no brackets, no spaces.
  // A v4-mapped text stays an IPv6 address (see unmapped()). nullopt if the text is anything else.
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::V4; }
  bool is_v6() const { return family_ == Family::V6; }

  // The address in network order: 4 octets for IPv4, 16 for IPv6.
  std::span<const std::uint8_t> bytes() const {
    return {octets_.data(), is_v4() ? std::size_t{4} : std::size_t{16}};
  }

  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), which is how a dual-stack socket shows an IPv4 peer.
  bool is_v4_mapped() const;
  // a.b.c.d for a v4-mapped IPv6 address, the address itself otherwise.
  IpAddress unmapped() const;
  // The v4-mapped IPv6 form of an IPv4 address, the address itself otherwise.
  IpAddress mapped() const;

  // 127.0.0.0/8 (RFC 1122 §3.2.1.3), ::1 (RFC 4291 §2.5.3), and ::ffff:127.0.0.0/104, which a
  // dual-stack socket reports for an IPv4 loopback peer: the same host.
  bool is_loopback() const;
  // 0.0.0.0 or ::.
  bool is_unspecified() const;

  // IPv4: dotted quad. IPv6: RFC 5952 §4: lowercase hex, no leading zeros in a group, the
  // longest run of two or more zero groups shortened to "::" (the leftmost on a tie); §5: a
  // v4-mapped address as ::ffff:a.b.c.d. parse(to_string()) gives the address back.
  std::string to_string() const;

  // IPv4 before IPv6, then by octets (numeric order).
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::V4;
  // IPv4 uses the first 4 octets and keeps the other 12 zero, so that the defaulted comparison
  // only sees the address.
  std::array<std::uint8_t, 16> octets_{};
};

std::ostream& operator<<(std::ostream& os, const IpAddress& a);

}  // namespace taube::inet
