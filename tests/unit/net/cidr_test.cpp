#include "net/cidr.hpp"

#include <gtest/gtest.h>

namespace taube::net {
namespace {

asio::ip::address ip(const char* s) {
  return asio::ip::make_address(s);
}

TEST(Cidr, V4) {
  auto c = Cidr::parse("192.0.2.0/24");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("192.0.2.0")));
  EXPECT_TRUE(c->contains(ip("192.0.2.255")));
  EXPECT_FALSE(c->contains(ip("192.0.3.0")));
  EXPECT_TRUE(c->contains(ip("::ffff:192.0.2.7")));  // v4-mapped
  EXPECT_FALSE(c->contains(ip("2001:db8::1")));
}

TEST(Cidr, OddPrefixAndSingleHost) {
  auto c = Cidr::parse("10.0.0.0/9");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("10.127.255.255")));
  EXPECT_FALSE(c->contains(ip("10.128.0.0")));
  auto h = Cidr::parse("127.0.0.1");
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->contains(ip("127.0.0.1")));
  EXPECT_FALSE(h->contains(ip("127.0.0.2")));
  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(ip("203.0.113.9")));
}

TEST(Cidr, V6) {
  auto c = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(c->contains(ip("2001:db9::1")));
  EXPECT_FALSE(c->contains(ip("192.0.2.1")));
}

TEST(Cidr, Invalid) {
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("2001:db8::/129"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::parse("example.org/8"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/8x"));
}

}  // namespace
}  // namespace taube::net
