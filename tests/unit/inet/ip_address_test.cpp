// Tests for src/inet/ip_address.cpp: strict parsing (RFC 4291 §2.2, dotted quad without leading
// zeros), canonical text (RFC 5952), mapping, loopback, ordering.
#include "inet/ip_address.hpp"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace taube::inet {
namespace {

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

std::vector<std::uint8_t> bytes_of(const IpAddress& a) {
  return {a.bytes().begin(), a.bytes().end()};
}

TEST(IpAddress, ParsesDottedQuads) {
  EXPECT_EQ(bytes_of(ip("192.0.2.1")), (std::vector<std::uint8_t>{192, 0, 2, 1}));
  EXPECT_EQ(bytes_of(ip("0.0.0.0")), (std::vector<std::uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(bytes_of(ip("255.255.255.255")), (std::vector<std::uint8_t>{255, 255, 255, 255}));
  EXPECT_EQ(bytes_of(ip("10.0.100.9")), (std::vector<std::uint8_t>{10, 0, 100, 9}));
  EXPECT_TRUE(ip("1.2.3.4").is_v4());
  EXPECT_FALSE(ip("1.2.3.4").is_v6());
  EXPECT_EQ(ip("1.2.3.4").family(), Family::V4);
}

TEST(IpAddress, RefusesBadDottedQuads) {
  for (const char* s : {"1.2.3",      "256.1.1.1", "1.2.3.256", "01.2.3.4",  "1.2.3.04",
                        "1.02.3.4",   "00.0.0.0",  "1.2.3.4.",  ".1.2.3.4",  "1..2.3",
                        "1.2.3.4.5",  "",          ".",         "...",       " 1.2.3.4",
                        "1.2.3.4 ",   "1.2.3.-4",  "1.2.3.+4",  "0x1.2.3.4", "1234.1.1.1",
                        "1.2.3.4/8",  "1.2.3.a",   "1,2,3,4",   "1.2.3.4\n", "999.999.999.999",
                        "4294967295", "1.2.3.4%0"}) {
    EXPECT_FALSE(IpAddress::parse(s)) << s;
  }
  // A NUL inside the text is not the end of it.
  EXPECT_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0", 8)));
}

TEST(IpAddress, ParsesIpv6Forms) {
  const std::array<std::uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(ip("::1"), IpAddress::from_v6(one));
  EXPECT_EQ(ip("0:0:0:0:0:0:0:1"), IpAddress::from_v6(one));
  EXPECT_EQ(ip("0000:0000::0001"), IpAddress::from_v6(one));
  EXPECT_EQ(ip("::"), IpAddress::from_v6({}));
  EXPECT_EQ(ip("2001:DB8::1"), ip("2001:db8::1"));  // either case (RFC 4291 §2.2 item 1)
  EXPECT_EQ(ip("1:2:3:4:5:6:7:8").to_string(), "1:2:3:4:5:6:7:8");
  EXPECT_EQ(ip("1:2:3:4:5:6:7::").to_string(), "1:2:3:4:5:6:7:0");  // "::" = one group
  EXPECT_EQ(ip("::2:3:4:5:6:7:8").to_string(), "0:2:3:4:5:6:7:8");
  EXPECT_EQ(ip("1::8").to_string(), "1::8");
  EXPECT_EQ(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").bytes().size(), 16u);
  // RFC 4291 §2.2 item 3: a dotted quad for the low 32 bits.
  EXPECT_EQ(bytes_of(ip("::ffff:1.2.3.4")),
            (std::vector<std::uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}));
  EXPECT_EQ(ip("1:2:3:4:5:6:1.2.3.4").to_string(), "1:2:3:4:5:6:102:304");
  EXPECT_EQ(ip("::1.2.3.4").to_string(), "::102:304");
  EXPECT_EQ(ip("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_TRUE(ip("::ffff:1.2.3.4").is_v6());
}

TEST(IpAddress, RefusesBadIpv6Forms) {
  for (const char* s : {":::",
                        "1::2::3",
                        "1:2:3:4:5:6:7:8:9",
                        "1:2:3:4:5:6:7",
                        ":",
                        ":1::",
                        "1::2:",
                        "::1:",
                        ":1:2:3:4:5:6:7:8",
                        "1:2:3:4:5:6:7:8:",
                        "12345::",
                        "g::",
                        "::g",
                        "1:2:3:4:5:6:7:8::",
                        "::1:2:3:4:5:6:7:8",
                        "1::2:3:4:5:6:7:8",
                        "1.2.3.4::",
                        "::1.2.3.4:5",
                        "::ffff:1.2.3",
                        "::ffff:01.2.3.4",
                        "::ffff:256.2.3.4",
                        "1:2:3:4:5:6:7:1.2.3.4",
                        "1:2:3:4:5:1.2.3.4",
                        "1:2:3:4:5:6:1.2.3.4:8",
                        "::1.2.3.4.5",
                        "fe80::1%eth0",
                        "fe80::1%1",
                        "[::1]",
                        " ::1",
                        "::1 ",
                        ":: 1",
                        "::-1",
                        "::+1",
                        "0x1::",
                        "1:::2",
                        "::::",
                        "1:2:3:4:5:6:7:8%0",
                        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555"}) {
    EXPECT_FALSE(IpAddress::parse(s)) << s;
  }
}

// RFC 5952 §4: one canonical text per address.
TEST(IpAddress, CanonicalTextRfc5952) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : std::vector<Case>{
           {"2001:0db8::0001", "2001:db8::1"},                // §4.1 no leading zeros
           {"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},         // §4.2.1 shorten as much as
           {"2001:db8::0:1", "2001:db8::1"},                  //   possible
           {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // §4.2.2 not one group
           {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},           // §4.2.3 the longest run
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     //   the first on a tie
           {"2001:DB8::1", "2001:db8::1"},                    // §4.3 lowercase
           {"2001:db8:aaaa:bbbb:cccc:dddd:eeee:AAAA", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa"},
           // The §1 variants of one address all give its canonical form.
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"},
           {"2001:db8:0:0:1::1", "2001:db8::1:0:0:1"},
           {"2001:db8:0000:0:1::1", "2001:db8::1:0:0:1"},
           {"2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"},
           {"::", "::"},
           {"0:0:0:0:0:0:0:0", "::"},
           {"::1", "::1"},
           {"1::", "1::"},
           {"1:0:0:0:0:0:0:0", "1::"},
           {"0:0:1:0:0:0:0:0", "0:0:1::"},
           {"1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"},
           {"0:1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"},
           {"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"},
           {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
           {"fe80::0200:5eff:fe00:5301", "fe80::200:5eff:fe00:5301"},
           // §5: v4-mapped in mixed notation; other embedded forms in hex.
           {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
           {"::FFFF:c000:0201", "::ffff:192.0.2.1"},
           {"0:0:0:0:0:ffff:0.0.0.0", "::ffff:0.0.0.0"},
           {"::192.0.2.1", "::c000:201"},
           {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
           {"::fffe:192.0.2.1", "::fffe:c000:201"},
           {"1::ffff:192.0.2.1", "1::ffff:c000:201"},
           // IPv4.
           {"192.0.2.1", "192.0.2.1"},
           {"0.0.0.0", "0.0.0.0"},
           {"255.255.255.255", "255.255.255.255"},
       }) {
    EXPECT_EQ(ip(c.in).to_string(), c.out) << c.in;
  }
}

TEST(IpAddress, RoundTripsThroughText) {
  std::mt19937 rng(5952);
  for (int i = 0; i < 2000; ++i) {
    std::array<std::uint8_t, 16> o{};
    // Mostly zero groups, so that runs of every length and position occur.
    for (std::size_t g = 0; g < 8; ++g) {
      if (rng() % 3 == 0) continue;
      o[2 * g] = static_cast<std::uint8_t>(rng() % 3 == 0 ? 0 : rng());
      o[2 * g + 1] = static_cast<std::uint8_t>(rng());
    }
    if (i % 10 == 0) o = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    const auto a = IpAddress::from_v6(o);
    const auto text = a.to_string();
    const auto back = IpAddress::parse(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, a) << text;
    EXPECT_EQ(back->to_string(), text);
    EXPECT_LE(text.size(), 45u);
    EXPECT_EQ(text.find_first_of("ABCDEF"), std::string::npos) << text;

    const auto v4 = IpAddress::from_v4({o[0], o[1], o[14], o[15]});
    const auto v4back = IpAddress::parse(v4.to_string());
    ASSERT_TRUE(v4back) << v4.to_string();
    EXPECT_EQ(*v4back, v4);
  }
}

TEST(IpAddress, FromOctetsAndBytes) {
  const auto a = IpAddress::from_v4({198, 51, 100, 7});
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.to_string(), "198.51.100.7");
  EXPECT_EQ(bytes_of(a), (std::vector<std::uint8_t>{198, 51, 100, 7}));
  std::array<std::uint8_t, 16> o{0x20, 0x01, 0x0d, 0xb8};
  o[15] = 0x42;
  const auto b = IpAddress::from_v6(o);
  EXPECT_TRUE(b.is_v6());
  EXPECT_EQ(b.to_string(), "2001:db8::42");
  EXPECT_EQ(bytes_of(b), std::vector<std::uint8_t>(o.begin(), o.end()));
  EXPECT_EQ(IpAddress{}.to_string(), "0.0.0.0");
  EXPECT_TRUE(IpAddress{}.is_v4());
}

TEST(IpAddress, MappedAndUnmapped) {
  EXPECT_TRUE(ip("::ffff:192.0.2.1").is_v4_mapped());
  EXPECT_FALSE(ip("192.0.2.1").is_v4_mapped());
  EXPECT_FALSE(ip("::192.0.2.1").is_v4_mapped());
  EXPECT_FALSE(ip("1::ffff:192.0.2.1").is_v4_mapped());
  EXPECT_FALSE(ip("::fffe:192.0.2.1").is_v4_mapped());
  EXPECT_EQ(ip("::ffff:192.0.2.1").unmapped(), ip("192.0.2.1"));
  EXPECT_TRUE(ip("::ffff:192.0.2.1").unmapped().is_v4());
  EXPECT_EQ(ip("2001:db8::1").unmapped(), ip("2001:db8::1"));
  EXPECT_EQ(ip("192.0.2.1").unmapped(), ip("192.0.2.1"));
  EXPECT_EQ(ip("192.0.2.1").mapped(), ip("::ffff:192.0.2.1"));
  EXPECT_EQ(ip("2001:db8::1").mapped(), ip("2001:db8::1"));
  EXPECT_EQ(ip("0.0.0.0").mapped().unmapped(), ip("0.0.0.0"));
}

TEST(IpAddress, Loopback) {
  EXPECT_TRUE(ip("127.0.0.1").is_loopback());
  EXPECT_TRUE(ip("127.0.0.0").is_loopback());
  EXPECT_TRUE(ip("127.255.255.255").is_loopback());
  EXPECT_FALSE(ip("126.255.255.255").is_loopback());
  EXPECT_FALSE(ip("128.0.0.0").is_loopback());
  EXPECT_FALSE(ip("0.0.0.0").is_loopback());
  EXPECT_TRUE(ip("::1").is_loopback());
  EXPECT_TRUE(ip("0:0:0:0:0:0:0:1").is_loopback());
  EXPECT_FALSE(ip("::").is_loopback());
  EXPECT_FALSE(ip("::2").is_loopback());
  EXPECT_FALSE(ip("1::1").is_loopback());
  EXPECT_FALSE(ip("::127.0.0.1").is_loopback());  // v4-compatible, not v4-mapped
  EXPECT_TRUE(ip("::ffff:127.0.0.1").is_loopback());
  EXPECT_TRUE(ip("::ffff:127.1.2.3").is_loopback());
  EXPECT_FALSE(ip("::ffff:128.0.0.1").is_loopback());
}

TEST(IpAddress, Unspecified) {
  EXPECT_TRUE(ip("0.0.0.0").is_unspecified());
  EXPECT_TRUE(ip("::").is_unspecified());
  EXPECT_FALSE(ip("0.0.0.1").is_unspecified());
  EXPECT_FALSE(ip("::1").is_unspecified());
  EXPECT_FALSE(ip("::ffff:0.0.0.0").is_unspecified());
}

TEST(IpAddress, Ordering) {
  EXPECT_EQ(ip("2001:db8::1"), ip("2001:0db8:0:0:0:0:0:1"));
  EXPECT_NE(ip("192.0.2.1"), ip("::ffff:192.0.2.1"));  // different families
  EXPECT_NE(ip("0.0.0.0"), ip("::"));
  EXPECT_LT(ip("1.2.3.4"), ip("1.2.3.5"));
  EXPECT_LT(ip("9.0.0.0"), ip("10.0.0.0"));    // numeric, not textual
  EXPECT_LT(ip("255.255.255.255"), ip("::"));  // IPv4 before IPv6
  EXPECT_LT(ip("::1"), ip("::2"));
  EXPECT_LT(ip("::ffff"), ip("1::"));
  EXPECT_GT(ip("2001:db8::1"), ip("2001:db8::"));
  EXPECT_LE(ip("1.2.3.4"), ip("1.2.3.4"));
}

TEST(IpAddress, Streams) {
  std::ostringstream os;
  os << ip("2001:DB8::1") << " " << ip("192.0.2.1");
  EXPECT_EQ(os.str(), "2001:db8::1 192.0.2.1");
}

}  // namespace
}  // namespace taube::inet
