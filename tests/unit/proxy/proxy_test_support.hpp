// Helpers for the PROXY parser tests: building v2 headers octet by octet, and the
// growing-prefix check every valid header goes through.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/crc32c.hpp"
#include "proxy/proxy_parser.hpp"
#include "split_feed.hpp"

namespace taube::proxy::testing {

inline const std::string kV2Sig("\r\n\r\n\0\r\nQUIT\n", 12);

inline std::string be16(std::size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

// A v2 header: signature, version/command octet, family/transport octet, length, body.
inline std::string v2(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& body) {
  return kV2Sig + static_cast<char>(ver_cmd) + static_cast<char>(fam) + be16(body.size()) + body;
}

inline std::string tlv(std::uint8_t type, const std::string& value) {
  return static_cast<char>(type) + be16(value.size()) + value;
}

inline std::string octets(std::initializer_list<int> v) {
  std::string s;
  for (const int o : v) s += static_cast<char>(o);
  return s;
}

// 192.0.2.1:56324 -> 198.51.100.25:25 as a v2 AF_INET block.
inline std::string inet_block() {
  return octets({192, 0, 2, 1, 198, 51, 100, 25}) + be16(56324) + be16(25);
}

// 2001:db8::1:443 -> 2001:db8::25:25 as a v2 AF_INET6 block.
inline std::string inet6_block() {
  std::string src(16, '\0'), dst(16, '\0');
  src[0] = dst[0] = 0x20;
  src[1] = dst[1] = 0x01;
  src[2] = dst[2] = 0x0d;
  src[3] = dst[3] = static_cast<char>(0xb8);
  src[15] = 0x01;
  dst[15] = 0x25;
  return src + dst + be16(443) + be16(25);
}

// Sets the value of the CRC32C TLV whose value starts at `at` (currently zeros) to the
// header's checksum (§2.2.3).
inline std::string with_crc(std::string h, std::size_t at) {
  const auto c = crc32c({reinterpret_cast<const std::uint8_t*>(h.data()), h.size()});
  h[at] = static_cast<char>(c >> 24);
  h[at + 1] = static_cast<char>((c >> 16) & 0xff);
  h[at + 2] = static_cast<char>((c >> 8) & 0xff);
  h[at + 3] = static_cast<char>(c & 0xff);
  return h;
}

inline ParseResult parse(std::string_view s, const ProxyLimits& limits = {}) {
  return parse_proxy_header(s, limits);
}

// The `need` the parser promises for a proper prefix of `header` of `k` octets.
inline std::size_t expected_need(std::string_view header, std::size_t k) {
  if (k == 0) return 1;
  if (header[0] == 'P') return k + 1;  // v1: the line may end with any next octet
  return k < 16 ? 16 : header.size();  // v2: the fixed part, then all of it
}

// Feeds every proper prefix of a valid `header` (each: Incomplete with the exact `need`), then
// the header alone and with a TLS ClientHello's first octets behind it (both: Complete, the
// same header, header_size == its length). Returns the Complete result.
inline ParseResult expect_valid(const std::string& header, const ProxyLimits& limits = {}) {
  for (std::size_t k = 0; k < header.size(); ++k) {
    const auto r = parse(std::string_view(header).substr(0, k), limits);
    EXPECT_EQ(r.status, ParseStatus::Incomplete)
        << "prefix of " << k << " octets of " << smtp::testing::visible(header) << ": " << r;
    EXPECT_EQ(r.need, expected_need(header, k)) << "prefix of " << k << " octets";
    if (r.status != ParseStatus::Incomplete) break;
  }
  const auto whole = parse(header, limits);
  EXPECT_EQ(whole.status, ParseStatus::Complete) << smtp::testing::visible(header) << ": " << whole;
  EXPECT_EQ(whole.header_size, header.size());
  EXPECT_TRUE(whole.error.empty());
  const std::string follow =
      header + octets({0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03});
  EXPECT_EQ(parse(follow, limits), whole);
  EXPECT_EQ(parse(header + "EHLO client.example\r\n", limits), whole);
  return whole;
}

// An input that is Invalid, and stays Invalid with more octets behind it.
inline void expect_invalid(const std::string& input, const ProxyLimits& limits = {}) {
  const auto r = parse(input, limits);
  EXPECT_EQ(r.status, ParseStatus::Invalid) << smtp::testing::visible(input) << ": " << r;
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(r.header_size, 0u);
  EXPECT_EQ(parse(input + "\r\nmore\r\n", limits).status, ParseStatus::Invalid);
}

}  // namespace taube::proxy::testing
