// The [dns] table: servers (validated "ip" / "ip:port") and family.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"

namespace taube::app {
namespace {

using ConfigDnsTest = test::ConfigFiles;

TEST_F(ConfigDnsTest, Defaults) {
  const Config c = default_config();
  EXPECT_TRUE(c.dns_servers.empty());
  EXPECT_EQ(c.dns_family, dns::FamilyPreference::Ipv6First);
}

TEST_F(ConfigDnsTest, Read) {
  auto c = load_config(write(R"(
[dns]
servers = ["127.0.0.1:5353", "192.0.2.53", "[::1]:53", "2001:db8::53"]
family = "ipv4-first"
)"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->dns_servers.size(), 4u);
  EXPECT_EQ(c->dns_family, dns::FamilyPreference::Ipv4First);
}

TEST_F(ConfigDnsTest, ErrorsNameTheKeyAndLine) {
  auto c = load_config(write("[dns]\n\nservers = [\"dns.example\"]\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":3: dns.servers: invalid server \"dns.example\""), std::string::npos)
      << c.error();
  c = load_config(write("[dns]\nfamily = \"any\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":2: dns.family: must be"), std::string::npos) << c.error();
  c = load_config(write("[dns]\nserver = []\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("dns.server: unknown key"), std::string::npos) << c.error();
  c = load_config(write("[dns]\nservers = \"127.0.0.1\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("dns.servers: expected an array of strings"), std::string::npos);
}

}  // namespace
}  // namespace taube::app
