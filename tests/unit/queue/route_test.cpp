#include "queue/route.hpp"

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

RoutingTable table() {
  RoutingTable t;
  t.port = 2526;
  t.transports["fixed.test"] = "smtp:[127.0.0.2]:2600";
  t.transports["noport.test"] = "smtp:[mail.noport.test]";
  t.transports["viamx.test"] = "smtp:relay.test:2700";
  t.transports["direct.test"] = "mx";
  return t;
}

TEST(Route, DefaultIsMxOfTheDomainOnTheOutboundPort) {
  auto n = route_for("Remote.TEST", table());
  EXPECT_TRUE(n.mx);
  EXPECT_EQ(n.host, "remote.test");
  EXPECT_EQ(n.port, 2526);
  EXPECT_EQ(n.key(), "remote.test:2526");
}

TEST(Route, BracketsSuppressTheMxLookup) {
  auto n = route_for("fixed.test", table());
  EXPECT_FALSE(n.mx);
  EXPECT_EQ(n.host, "127.0.0.2");
  EXPECT_EQ(n.port, 2600);
  EXPECT_EQ(n.key(), "[127.0.0.2]:2600");
  auto p = route_for("noport.test", table());
  EXPECT_FALSE(p.mx);
  EXPECT_EQ(p.port, 2526);
  auto m = route_for("viamx.test", table());
  EXPECT_TRUE(m.mx);
  EXPECT_EQ(m.host, "relay.test");
  EXPECT_EQ(m.port, 2700);
}

TEST(Route, SmarthostIsTheDefaultButMxEntriesOverrideIt) {
  auto t = table();
  t.smarthost = *parse_smarthost("smart.test:587", TlsUse::Required);
  auto n = route_for("anything.test", t);
  EXPECT_TRUE(n.smarthost);
  EXPECT_FALSE(n.mx);
  EXPECT_EQ(n.key(), "[smart.test]:587");
  EXPECT_EQ(n.tls, TlsUse::Required);
  EXPECT_TRUE(route_for("direct.test", t).mx);
  EXPECT_FALSE(route_for("direct.test", t).smarthost);
  EXPECT_EQ(route_for("fixed.test", t).host, "127.0.0.2");
}

TEST(Route, AddressLiteralIsTheHostItself) {
  auto n = route_for("[192.0.2.7]", table());
  EXPECT_FALSE(n.mx);
  EXPECT_EQ(n.host, "192.0.2.7");
  auto v6 = route_for("[IPv6:::1]", table());
  EXPECT_EQ(v6.host, "::1");
}

TEST(Route, BadEntriesAreExplained) {
  RoutingTable t;
  EXPECT_NE(parse_transport("smarthost", t).error().find("not set"), std::string::npos);
  EXPECT_NE(parse_transport("smtp:[x", t).error().find("']'"), std::string::npos);
  EXPECT_NE(parse_transport("smtp:host:99999", t).error().find("bad port"), std::string::npos);
  EXPECT_NE(parse_transport("uucp:x", t).error().find("must be"), std::string::npos);
  EXPECT_NE(parse_transport("lmtp:unix:/x", t).error().find("not supported"), std::string::npos);
  EXPECT_FALSE(parse_transport("local", t));
  EXPECT_FALSE(parse_smarthost("", TlsUse::None));
  auto s = parse_smarthost("[::1]:2525", TlsUse::None);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 2525);
  EXPECT_EQ(parse_smarthost("smart.test", TlsUse::Implicit)->port, 465);
  EXPECT_EQ(*parse_tls_use("starttls", true), TlsUse::Opportunistic);
  EXPECT_FALSE(parse_tls_use("implicit", false));
}

}  // namespace
}  // namespace taube::queue
