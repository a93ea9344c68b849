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

TEST(Route, LmtpOverTcpNeverLooksUpMx) {
  RoutingTable t = table();
  t.transports["store.test"] = "lmtp:dovecot.store.test:24";
  t.transports["bracketed.test"] = "lmtp:[127.0.0.9]:2424";
  t.transports["inet.test"] = "lmtp:inet:[::1]:24";
  auto n = route_for("Store.Test", t);
  EXPECT_EQ(n.dialect, smtp::Dialect::Lmtp);
  EXPECT_FALSE(n.mx);  // a bare host too: LMTP goes to a store, not to a domain's MX
  EXPECT_EQ(n.host, "dovecot.store.test");
  EXPECT_EQ(n.port, 24);
  EXPECT_EQ(n.tls, TlsUse::None);
  EXPECT_TRUE(n.unix_path.empty());
  EXPECT_EQ(n.key(), "lmtp:[dovecot.store.test]:24");
  auto b = route_for("bracketed.test", t);
  EXPECT_EQ(b.host, "127.0.0.9");
  EXPECT_EQ(b.port, 2424);
  EXPECT_EQ(route_for("inet.test", t).host, "::1");
}

TEST(Route, LmtpOverAUnixSocket) {
  RoutingTable t = table();
  t.transports["store.test"] = "lmtp:unix:/run/dovecot/lmtp";
  auto n = route_for("store.test", t);
  EXPECT_EQ(n.dialect, smtp::Dialect::Lmtp);
  EXPECT_EQ(n.unix_path, "/run/dovecot/lmtp");
  EXPECT_FALSE(n.mx);
  EXPECT_EQ(n.tls, TlsUse::None);
  EXPECT_EQ(n.key(), "lmtp:unix:/run/dovecot/lmtp");
  // The socket path keeps its case: file names are case-sensitive.
  EXPECT_EQ(parse_transport("lmtp:unix:/Run/LMTP", t).value()->unix_path, "/Run/LMTP");
}

TEST(Route, KeysKeepSmtpAndLmtpApart) {
  // The same host and port by SMTP and by LMTP are different destinations (their sessions
  // cannot be shared), and a unix socket is never a TCP destination.
  RoutingTable t;
  auto smtp = parse_transport("smtp:[127.0.0.1]:2424", t).value().value();
  auto lmtp = parse_transport("lmtp:[127.0.0.1]:2424", t).value().value();
  auto sock = parse_transport("lmtp:unix:/tmp/127.0.0.1:2424", t).value().value();
  EXPECT_EQ(smtp.dialect, smtp::Dialect::Smtp);
  EXPECT_NE(smtp.key(), lmtp.key());
  EXPECT_NE(lmtp.key(), sock.key());
  EXPECT_NE(smtp.key(), sock.key());
  EXPECT_FALSE(smtp == lmtp);
}

TEST(Route, BadLmtpEntriesAreExplained) {
  RoutingTable t;
  auto err = [&](const char* e) {
    auto r = parse_transport(e, t);
    EXPECT_FALSE(r) << e;
    return r ? std::string() : r.error();
  };
  EXPECT_NE(err("lmtp:dovecot.test").find("no port"), std::string::npos);
  EXPECT_NE(err("lmtp:[127.0.0.1]").find("no port"), std::string::npos);
  EXPECT_NE(err("lmtp:127.0.0.1:25").find("RFC 2033"), std::string::npos);
  EXPECT_NE(err("lmtp:[::1]:25").find("port 25"), std::string::npos);
  EXPECT_NE(err("lmtp:host:0").find("bad port"), std::string::npos);
  EXPECT_NE(err("lmtp:host:x").find("bad port"), std::string::npos);
  EXPECT_NE(err("lmtp:unix:private/dovecot-lmtp").find("must be absolute"), std::string::npos);
  EXPECT_NE(err("lmtp:unix:").find("no socket path"), std::string::npos);
  EXPECT_NE(err(("lmtp:unix:/" + std::string(120, 'x')).c_str()).find("107"), std::string::npos);
  EXPECT_NE(err("lmtp:").find("no host"), std::string::npos);
  EXPECT_NE(err("lmtp:[x:24").find("']'"), std::string::npos);
  // The entry itself is quoted, so the operator sees which one.
  EXPECT_NE(err("lmtp:dovecot.test").find("\"lmtp:dovecot.test\""), std::string::npos);
  EXPECT_NE(err("lmtps:x:24").find("lmtp:unix:/path"), std::string::npos);
}

}  // namespace
}  // namespace taube::queue
