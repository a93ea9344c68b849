// MX and address RDATA decoding (RFC 1035 §3.3.9, §3.4.1, RFC 3596 §2.2) and name normalization.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "dns/answers.hpp"

using namespace taube::dns;
using Bytes = std::vector<std::uint8_t>;

namespace {
Bytes mx(std::uint16_t pref, std::initializer_list<std::string_view> labels) {
  Bytes b{static_cast<std::uint8_t>(pref >> 8), static_cast<std::uint8_t>(pref & 0xff)};
  for (auto l : labels) {
    b.push_back(static_cast<std::uint8_t>(l.size()));
    b.insert(b.end(), l.begin(), l.end());
  }
  b.push_back(0);
  return b;
}
}  // namespace

TEST(MxRdata, PreferenceAndLowerCasedExchange) {
  const auto r = parse_mx_rdata(mx(0x1234, {"MX1", "Example", "ORG"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->preference, 0x1234);
  EXPECT_EQ(r->exchange, "mx1.example.org");
}

TEST(MxRdata, RootIsTheNullMx) {
  const auto r = parse_mx_rdata(mx(0, {}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->preference, 0);
  EXPECT_EQ(r->exchange, "");
}

TEST(MxRdata, Malformed) {
  EXPECT_FALSE(parse_mx_rdata(Bytes{}));
  EXPECT_FALSE(parse_mx_rdata(Bytes{0, 10}));
  // Truncated label, missing root label, trailing octets, compression pointer.
  EXPECT_FALSE(parse_mx_rdata(Bytes{0, 10, 3, 'a', 'b'}));
  EXPECT_FALSE(parse_mx_rdata(Bytes{0, 10, 1, 'a'}));
  Bytes trailing = mx(10, {"a"});
  trailing.push_back(0);
  EXPECT_FALSE(parse_mx_rdata(trailing));
  EXPECT_FALSE(parse_mx_rdata(Bytes{0, 10, 0xc0, 0x0c}));
  // A label of 64 octets.
  EXPECT_FALSE(parse_mx_rdata(mx(10, {std::string(64, 'a')})));
  EXPECT_TRUE(parse_mx_rdata(mx(10, {std::string(63, 'a')})));
}

TEST(MxRdata, NameLengthLimit) {
  // 4 labels of 63 = 4 * 64 + 1 = 257 octets on the wire: too long (RFC 1035 §3.1: 255).
  const std::string l(63, 'a');
  EXPECT_FALSE(parse_mx_rdata(mx(1, {l, l, l, l})));
  // 3 * 64 + 62 + 1 = 255: the limit.
  EXPECT_TRUE(parse_mx_rdata(mx(1, {l, l, l, std::string(61, 'a')})));
}

TEST(AddressRdata, V4AndV6) {
  const auto a = parse_address_rdata(Bytes{192, 0, 2, 1}, false);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "192.0.2.1");
  Bytes v6(16, 0);
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[2] = 0x0d;
  v6[3] = 0xb8;
  v6[15] = 1;
  const auto b = parse_address_rdata(v6, true);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->to_string(), "2001:db8::1");
  EXPECT_FALSE(parse_address_rdata(v6, false));
  EXPECT_FALSE(parse_address_rdata(Bytes{1, 2, 3, 4}, true));
  EXPECT_FALSE(parse_address_rdata(Bytes{1, 2, 3}, false));
}

TEST(NormalizeName, LowerCaseOneTrailingDot) {
  EXPECT_EQ(normalize_name("Mx.Example.ORG."), "mx.example.org");
  EXPECT_EQ(normalize_name("."), "");
  EXPECT_EQ(normalize_name("a"), "a");
}

TEST(ServerAddress, Forms) {
  auto s = parse_server("192.0.2.53");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->address.to_string(), "192.0.2.53");
  EXPECT_EQ(s->port, 53);
  s = parse_server("127.0.0.1:5353");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->port, 5353);
  s = parse_server("2001:db8::53");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->address.to_string(), "2001:db8::53");
  EXPECT_EQ(s->port, 53);
  s = parse_server("[::1]:5353");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->address.to_string(), "::1");
  EXPECT_EQ(s->port, 5353);
  for (const char* bad : {"", "dns.example", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:53x", "[::1]", "[::1]:", "[::1", "1.2.3.4:99999999999"})
    EXPECT_FALSE(parse_server(bad)) << bad;
}
