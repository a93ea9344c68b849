// Tests for src/inet/cidr.cpp: CIDR parsing (prefix bounds, host bits, mapped networks) and
// membership at the edges of networks.
#include "inet/cidr.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

namespace taube::inet {
namespace {

IpAddress ip(const char* s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

Cidr net(const char* s) {
  auto c = Cidr::parse(s);
  EXPECT_TRUE(c) << s;
  return c.value_or(Cidr{});
}

TEST(Cidr, V4Network) {
  const auto c = net("192.0.2.0/24");
  EXPECT_EQ(c.prefix_length(), 24u);
  EXPECT_EQ(c.network(), ip("192.0.2.0"));
  EXPECT_TRUE(c.contains(ip("192.0.2.0")));     // first
  EXPECT_TRUE(c.contains(ip("192.0.2.255")));   // last
  EXPECT_FALSE(c.contains(ip("192.0.1.255")));  // just below
  EXPECT_FALSE(c.contains(ip("192.0.3.0")));    // just above
  EXPECT_FALSE(c.contains(ip("2001:db8::1")));
  EXPECT_FALSE(c.contains(ip("::192.0.2.1")));  // v4-compatible is not v4-mapped
}

TEST(Cidr, V4NetworkMatchesMappedV6) {
  const auto c = net("192.0.2.0/24");
  EXPECT_TRUE(c.contains(ip("::ffff:192.0.2.7")));
  EXPECT_TRUE(c.contains(ip("::ffff:192.0.2.0")));
  EXPECT_TRUE(c.contains(ip("::ffff:192.0.2.255")));
  EXPECT_FALSE(c.contains(ip("::ffff:192.0.3.0")));
  EXPECT_TRUE(net("0.0.0.0/0").contains(ip("::ffff:203.0.113.9")));
  EXPECT_TRUE(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
}

TEST(Cidr, OddPrefixes) {
  const auto c = net("10.0.0.0/9");
  EXPECT_TRUE(c.contains(ip("10.0.0.0")));
  EXPECT_TRUE(c.contains(ip("10.127.255.255")));
  EXPECT_FALSE(c.contains(ip("10.128.0.0")));
  EXPECT_FALSE(c.contains(ip("9.255.255.255")));
  const auto d = net("198.51.100.0/23");  // 198.51.100.0 - 198.51.101.255
  EXPECT_TRUE(d.contains(ip("198.51.101.255")));
  EXPECT_FALSE(d.contains(ip("198.51.102.0")));
  EXPECT_FALSE(d.contains(ip("198.51.99.255")));
  const auto e = net("2001:db8:8000::/33");
  EXPECT_TRUE(e.contains(ip("2001:db8:8000::")));
  EXPECT_TRUE(e.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(e.contains(ip("2001:db8:7fff:ffff:ffff:ffff:ffff:ffff")));
  const auto f = net("2001:db8::8000:0:0:0/65");
  EXPECT_TRUE(f.contains(ip("2001:db8::ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(f.contains(ip("2001:db8::7fff:ffff:ffff:ffff")));
}

TEST(Cidr, WholeSpaces) {
  const auto all4 = net("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(ip("0.0.0.0")));
  EXPECT_TRUE(all4.contains(ip("255.255.255.255")));
  EXPECT_FALSE(all4.contains(ip("::")));
  EXPECT_FALSE(all4.contains(ip("2001:db8::1")));
  const auto all6 = net("::/0");
  EXPECT_TRUE(all6.contains(ip("::")));
  EXPECT_TRUE(all6.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  // An IPv6 network never contains an IPv4 client, whichever way the socket shows it.
  EXPECT_FALSE(all6.contains(ip("192.0.2.1")));
  EXPECT_FALSE(all6.contains(ip("::ffff:192.0.2.1")));
  // Host bits of a /0 are all host bits.
  EXPECT_EQ(net("192.0.2.1/0"), all4);
}

TEST(Cidr, SingleHosts) {
  const auto h = net("127.0.0.1");
  EXPECT_EQ(h.prefix_length(), 32u);
  EXPECT_EQ(h, net("127.0.0.1/32"));
  EXPECT_TRUE(h.contains(ip("127.0.0.1")));
  EXPECT_FALSE(h.contains(ip("127.0.0.0")));
  EXPECT_FALSE(h.contains(ip("127.0.0.2")));
  const auto h6 = net("2001:db8::1");
  EXPECT_EQ(h6.prefix_length(), 128u);
  EXPECT_EQ(h6, net("2001:db8::1/128"));
  EXPECT_TRUE(h6.contains(ip("2001:db8::1")));
  EXPECT_FALSE(h6.contains(ip("2001:db8::")));
  EXPECT_FALSE(h6.contains(ip("2001:db8::2")));
  const auto p = net("2001:db8::/127");
  EXPECT_TRUE(p.contains(ip("2001:db8::")));
  EXPECT_TRUE(p.contains(ip("2001:db8::1")));
  EXPECT_FALSE(p.contains(ip("2001:db8::2")));
}

TEST(Cidr, HostBitsAreMasked) {
  EXPECT_EQ(net("192.0.2.77/24").to_string(), "192.0.2.0/24");
  EXPECT_TRUE(net("192.0.2.77/24").contains(ip("192.0.2.1")));
  EXPECT_EQ(net("10.255.255.255/9").to_string(), "10.128.0.0/9");
  EXPECT_EQ(net("2001:db8:ffff::1/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(net("2001:db8::ffff/127").to_string(), "2001:db8::fffe/127");
  EXPECT_EQ(net("192.0.2.77/24"), net("192.0.2.0/24"));
}

TEST(Cidr, MappedNetworksAreIpv4Networks) {
  EXPECT_EQ(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
  EXPECT_EQ(net("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
  EXPECT_TRUE(net("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
  EXPECT_TRUE(net("::ffff:10.0.0.0/104").contains(ip("::ffff:10.1.2.3")));
  EXPECT_EQ(net("::ffff:10.0.0.1"), net("10.0.0.1/32"));
  EXPECT_EQ(net("::ffff:0.0.0.0/96"), net("0.0.0.0/0"));
  EXPECT_EQ(net("::ffff:1.2.3.4/128"), net("1.2.3.4/32"));
  // Below /96 the network is wider than the mapped space: an IPv6 network.
  EXPECT_TRUE(net("::ffff:0:0/95").network().is_v6());
  EXPECT_FALSE(Cidr::parse("::ffff:10.0.0.0/129"));
}

TEST(Cidr, ContainsIgnoresMapping) {
  const std::vector<Cidr> nets = {net("192.0.2.0/24"), net("0.0.0.0/0"),     net("10.0.0.0/9"),
                                  net("::/0"),         net("::ffff:0:0/95"), net("2001:db8::/32")};
  for (const char* a : {"192.0.2.1", "10.127.0.1", "10.128.0.1", "0.0.0.0", "255.255.255.255"}) {
    const auto v4 = ip(a);
    for (const auto& n : nets) {
      EXPECT_EQ(n.contains(v4), n.contains(v4.mapped())) << n << " " << a;
      EXPECT_EQ(n.contains(v4.mapped()), n.contains(v4.mapped().unmapped())) << n << " " << a;
    }
  }
}

TEST(Cidr, PrefixBounds) {
  EXPECT_TRUE(Cidr::parse("10.0.0.0/32"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_TRUE(Cidr::parse("10.0.0.0/0"));
  EXPECT_TRUE(Cidr::parse("2001:db8::/128"));
  EXPECT_FALSE(Cidr::parse("2001:db8::/129"));
  EXPECT_FALSE(Cidr::parse("2001:db8::/1000"));
  EXPECT_TRUE(Cidr::from(ip("10.0.0.0"), 32));
  EXPECT_FALSE(Cidr::from(ip("10.0.0.0"), 33));
  EXPECT_TRUE(Cidr::from(ip("::"), 128));
  EXPECT_FALSE(Cidr::from(ip("::"), 129));
  EXPECT_EQ(Cidr::from(ip("192.0.2.9"), 24)->to_string(), "192.0.2.0/24");
}

TEST(Cidr, Invalid) {
  for (const char* s : {"10.0.0.0/",
                        "10.0.0/8",
                        "example.org/8",
                        "10.0.0.0/8x",
                        "10.0.0.0/-1",
                        "10.0.0.0/+8",
                        "10.0.0.0/08",
                        "10.0.0.0/00",
                        "/8",
                        "/",
                        "",
                        "10.0.0.0/8/8",
                        "10.0.0.0 /8",
                        "10.0.0.0/ 8",
                        "10.0.0.0/8 ",
                        "[::1]/128",
                        "2001:db8::/",
                        "2001:db8::/032",
                        "01.0.0.0/8",
                        "10.0.0.0/4294967304",
                        "::1/1%eth0"}) {
    EXPECT_FALSE(Cidr::parse(s)) << s;
  }
}

TEST(Cidr, Text) {
  EXPECT_EQ(net("2001:DB8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(net("192.0.2.1").to_string(), "192.0.2.1/32");
  EXPECT_EQ(net("::1").to_string(), "::1/128");
  std::ostringstream os;
  os << net("10.0.0.0/8");
  EXPECT_EQ(os.str(), "10.0.0.0/8");
}

}  // namespace
}  // namespace taube::inet
