// MX ordering (RFC 5321 §5.1, RFC 7505), the route plan (families, limit, ourselves) and
// address literals (RFC 5321 §4.1.3).
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "dns/route.hpp"

using namespace taube;
using namespace taube::dns;

namespace {

// Draws from a fixed list, then 0.
std::function<double()> draws(std::vector<double> d) {
  auto q = std::make_shared<std::deque<double>>(d.begin(), d.end());
  return [q] {
    if (q->empty()) return 0.0;
    const double v = q->front();
    q->pop_front();
    return v;
  };
}

MxAnswer ok_mx(std::vector<MxRecord> r) {
  return {Rcode::Ok, std::move(r), ""};
}

std::vector<std::string> names(const HostOrder& o) {
  std::vector<std::string> out;
  for (const auto& h : o.hosts) out.push_back(h.name);
  return out;
}

inet::IpAddress ip(const char* s) {
  return *inet::IpAddress::parse(s);
}

AddressAnswer addrs(std::vector<const char*> a) {
  AddressAnswer r{Rcode::Ok, {}, ""};
  for (auto s : a) r.addresses.push_back(ip(s));
  return r;
}
const AddressAnswer kNoData{Rcode::Ok, {}, ""};
const AddressAnswer kFail{Rcode::ServFail, {}, "timeout"};
const AddressAnswer kNx{Rcode::NxDomain, {}, ""};

const std::vector<std::string> kNoSelf;
const std::vector<inet::IpAddress> kNoSelfAddr;

HostOrder order_of(std::vector<std::pair<std::string, std::uint16_t>> hosts) {
  HostOrder o{PlanStatus::Ok, {}, ""};
  for (auto& [n, p] : hosts) o.hosts.push_back({n, p, false});
  return o;
}

std::vector<std::string> target_text(const RoutePlan& p) {
  std::vector<std::string> out;
  for (const auto& t : p.targets)
    out.push_back(std::to_string(t.preference) + " " + t.host + " " + t.address.to_string());
  return out;
}

}  // namespace

TEST(OrderMx, ByPreference) {
  const auto o = order_mx(
      "Example.ORG.", ok_mx({{30, "c.example.org."}, {10, "A.example.org"}, {20, "b.example.org"}}),
      kNoSelf, draws({}));
  ASSERT_EQ(o.status, PlanStatus::Ok);
  EXPECT_EQ(names(o),
            (std::vector<std::string>{"a.example.org", "b.example.org", "c.example.org"}));
  EXPECT_EQ(o.hosts[0].preference, 10);
  EXPECT_FALSE(o.hosts[0].implicit);
}

TEST(OrderMx, EqualPreferencesShuffledByTheDraws) {
  const MxAnswer mx = ok_mx({{10, "a"}, {10, "b"}, {10, "c"}, {5, "first"}, {20, "last"}});
  // Draws 0: each position swaps with the group's first: [a b c] -> i=2 swap(c,a) -> [c b a],
  // i=1 swap(b,c) -> [b c a].
  EXPECT_EQ(names(order_mx("d", mx, kNoSelf, draws({0, 0}))),
            (std::vector<std::string>{"first", "b", "c", "a", "last"}));
  // Draws just under 1: each position keeps its host: answer order.
  EXPECT_EQ(names(order_mx("d", mx, kNoSelf, draws({0.999, 0.999}))),
            (std::vector<std::string>{"first", "a", "b", "c", "last"}));
  // Exactly two draws are used for a group of three, none for the single hosts.
  int used = 0;
  std::function<double()> counting = [&] {
    ++used;
    return 0.5;
  };
  (void)order_mx("d", mx, kNoSelf, counting);
  EXPECT_EQ(used, 2);
  // Every permutation of the group is reachable.
  std::set<std::vector<std::string>> seen;
  for (double x : {0.0, 0.4, 0.7})
    for (double y : {0.0, 0.6}) seen.insert(names(order_mx("d", mx, kNoSelf, draws({x, y}))));
  EXPECT_EQ(seen.size(), 6u);
  for (const auto& s : seen) {
    EXPECT_EQ(s.front(), "first");
    EXPECT_EQ(s.back(), "last");
  }
}

TEST(OrderMx, BadDrawsStayInRange) {
  const MxAnswer mx = ok_mx({{10, "a"}, {10, "b"}});
  for (double d : {-1.0, 1.0, 7.0, std::nan("")}) {
    const auto o = order_mx("d", mx, kNoSelf, draws({d}));
    EXPECT_EQ(o.hosts.size(), 2u);
  }
}

TEST(OrderMx, DuplicateHostsKeptOnceAtTheBestPreference) {
  const auto o = order_mx("d", ok_mx({{20, "a"}, {10, "b"}, {5, "A."}}), kNoSelf, draws({}));
  EXPECT_EQ(names(o), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.hosts[0].preference, 5);
}

TEST(OrderMx, NoDataIsTheImplicitMx) {
  const auto o = order_mx("Example.Org.", ok_mx({}), kNoSelf, draws({}));
  ASSERT_EQ(o.status, PlanStatus::Ok);
  ASSERT_EQ(o.hosts.size(), 1u);
  EXPECT_EQ(o.hosts[0], (MxHost{"example.org", 0, true}));
}

TEST(OrderMx, NullMx) {
  const auto o = order_mx("d", ok_mx({{0, ""}}), kNoSelf, draws({}));
  EXPECT_EQ(o.status, PlanStatus::NullMx);
  EXPECT_TRUE(o.hosts.empty());
  EXPECT_NE(o.reason.find("null MX"), std::string::npos);
  // RFC 7505: alone by rule, but "." among real hosts still says no mail; "." spelled as such.
  EXPECT_EQ(order_mx("d", ok_mx({{10, "mx"}, {0, "."}}), kNoSelf, draws({})).status,
            PlanStatus::NullMx);
  EXPECT_EQ(order_mx("d", ok_mx({{10, "mx"}, {20, ""}}), kNoSelf, draws({})).status,
            PlanStatus::NullMx);
}

TEST(OrderMx, NxDomainAndServFail) {
  const auto nx = order_mx("d.example", {Rcode::NxDomain, {}, ""}, kNoSelf, draws({}));
  EXPECT_EQ(nx.status, PlanStatus::NoSuchDomain);
  EXPECT_NE(nx.reason.find("d.example"), std::string::npos);
  const auto sf = order_mx("d", {Rcode::ServFail, {}, "timeout"}, kNoSelf, draws({}));
  EXPECT_EQ(sf.status, PlanStatus::TempFail);
  EXPECT_NE(sf.reason.find("timeout"), std::string::npos);
  // Records in a failed answer do not count.
  EXPECT_EQ(order_mx("d", {Rcode::ServFail, {{10, "mx"}}, ""}, kNoSelf, draws({})).status,
            PlanStatus::TempFail);
}

TEST(OrderMx, SelfPrunesEqualAndWorse) {
  const std::vector<std::string> self{"MX.Test."};
  const MxAnswer mx = ok_mx({{10, "primary"}, {20, "mx.test"}, {20, "peer"}, {30, "backup"}});
  const auto o = order_mx("d", mx, self, draws({}));
  ASSERT_EQ(o.status, PlanStatus::Ok);
  EXPECT_EQ(names(o), (std::vector<std::string>{"primary"}));
  // Self as the best MX: nothing left.
  const auto loop = order_mx("d", ok_mx({{10, "mx.test"}, {20, "backup"}}), self, draws({}));
  EXPECT_EQ(loop.status, PlanStatus::LoopsToSelf);
  EXPECT_NE(loop.reason.find("mx.test"), std::string::npos);
  // Self sharing the best preference with another: equal goes too.
  EXPECT_EQ(order_mx("d", ok_mx({{10, "other"}, {10, "mx.test"}}), self, draws({0.9})).status,
            PlanStatus::LoopsToSelf);
  // Implicit MX that is ourselves.
  EXPECT_EQ(order_mx("MX.test", ok_mx({}), self, draws({})).status, PlanStatus::LoopsToSelf);
}

TEST(PlanStatus, ReplyCodesAndEnhancedStatus) {
  struct Case {
    PlanStatus s;
    int code;
    const char* enhanced;
  };
  for (const Case& c :
       {Case{PlanStatus::NullMx, 556, "5.1.10"}, Case{PlanStatus::NoSuchDomain, 550, "5.1.2"},
        Case{PlanStatus::TempFail, 451, "4.4.3"}, Case{PlanStatus::LoopsToSelf, 554, "5.4.6"},
        Case{PlanStatus::NoAddresses, 550, "5.4.4"}}) {
    RoutePlan p{c.s, {}, ""};
    EXPECT_EQ(p.reply_code(), c.code);
    EXPECT_EQ(p.enhanced_status(), c.enhanced);
    // The class digit agrees (RFC 3463 §2).
    EXPECT_EQ(p.enhanced_status()[0] - '0', c.code / 100);
  }
}

TEST(PlanTargets, HostOrderThenFamilyPreference) {
  const auto order = order_of({{"a", 10}, {"b", 20}});
  const std::vector<HostAddresses> per{{addrs({"2001:db8::a"}), addrs({"192.0.2.1", "192.0.2.2"})},
                                       {addrs({"2001:db8::b"}), addrs({"192.0.2.3"})}};
  auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  ASSERT_EQ(p.status, PlanStatus::Ok);
  EXPECT_EQ(target_text(p),
            (std::vector<std::string>{"10 a 2001:db8::a", "10 a 192.0.2.1", "10 a 192.0.2.2",
                                      "20 b 2001:db8::b", "20 b 192.0.2.3"}));
  p = plan_targets(order, per, FamilyPreference::Ipv4First, 5, kNoSelfAddr);
  EXPECT_EQ(target_text(p),
            (std::vector<std::string>{"10 a 192.0.2.1", "10 a 192.0.2.2", "10 a 2001:db8::a",
                                      "20 b 192.0.2.3", "20 b 2001:db8::b"}));
  p = plan_targets(order, per, FamilyPreference::Ipv4Only, 5, kNoSelfAddr);
  EXPECT_EQ(target_text(p),
            (std::vector<std::string>{"10 a 192.0.2.1", "10 a 192.0.2.2", "20 b 192.0.2.3"}));
  p = plan_targets(order, per, FamilyPreference::Ipv6Only, 5, kNoSelfAddr);
  EXPECT_EQ(target_text(p), (std::vector<std::string>{"10 a 2001:db8::a", "20 b 2001:db8::b"}));
}

TEST(PlanTargets, FallbackToTheOtherFamily) {
  const auto order = order_of({{"a", 10}});
  // No AAAA (NoData, NXDOMAIN or a failed lookup): the A records.
  for (const auto& aaaa : {kNoData, kNx, kFail}) {
    const std::vector<HostAddresses> per{{aaaa, addrs({"192.0.2.1"})}};
    const auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
    ASSERT_EQ(p.status, PlanStatus::Ok);
    EXPECT_EQ(target_text(p), (std::vector<std::string>{"10 a 192.0.2.1"}));
  }
  // ipv6-only does not fall back.
  const std::vector<HostAddresses> per{{kNoData, addrs({"192.0.2.1"})}};
  EXPECT_EQ(plan_targets(order, per, FamilyPreference::Ipv6Only, 5, kNoSelfAddr).status,
            PlanStatus::NoAddresses);
}

TEST(PlanTargets, AtMostMaxAddresses) {
  const auto order = order_of({{"a", 10}, {"b", 20}, {"c", 30}});
  const std::vector<HostAddresses> per{{kNoData, addrs({"192.0.2.1", "192.0.2.2", "192.0.2.3"})},
                                       {kNoData, addrs({"192.0.2.4", "192.0.2.5", "192.0.2.6"})},
                                       {kNoData, addrs({"192.0.2.7"})}};
  const auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  ASSERT_EQ(p.targets.size(), 5u);
  EXPECT_EQ(p.targets.back().address.to_string(), "192.0.2.5");
  EXPECT_EQ(plan_targets(order, per, FamilyPreference::Ipv6First, 1, kNoSelfAddr).targets.size(),
            1u);
}

TEST(PlanTargets, DuplicatesDropped) {
  const auto order = order_of({{"a", 10}});
  const std::vector<HostAddresses> per{{kNoData, addrs({"192.0.2.1", "192.0.2.1"})}};
  EXPECT_EQ(plan_targets(order, per, FamilyPreference::Ipv4First, 5, kNoSelfAddr).targets.size(),
            1u);
}

TEST(PlanTargets, FailedHostsSkippedWhenOthersResolve) {
  const auto order = order_of({{"a", 10}, {"b", 20}});
  const std::vector<HostAddresses> per{{kFail, kFail}, {kNoData, addrs({"192.0.2.9"})}};
  const auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  ASSERT_EQ(p.status, PlanStatus::Ok);
  EXPECT_EQ(target_text(p), (std::vector<std::string>{"20 b 192.0.2.9"}));
}

TEST(PlanTargets, AllFailedIsTempFail) {
  const auto order = order_of({{"a", 10}, {"b", 20}});
  const std::vector<HostAddresses> per{{kFail, kFail}, {kFail, kFail}};
  const auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  EXPECT_EQ(p.status, PlanStatus::TempFail);
  EXPECT_EQ(p.reply_code(), 451);
  EXPECT_NE(p.reason.find("timeout"), std::string::npos);
  // One failed, the other has no address: still worth a retry.
  const std::vector<HostAddresses> mixed{{kNx, kNx}, {kNoData, kFail}};
  EXPECT_EQ(plan_targets(order, mixed, FamilyPreference::Ipv6First, 5, kNoSelfAddr).status,
            PlanStatus::TempFail);
  // Missing entries count as failed.
  EXPECT_EQ(plan_targets(order, {}, FamilyPreference::Ipv6First, 5, kNoSelfAddr).status,
            PlanStatus::TempFail);
}

TEST(PlanTargets, NoAddressAnywhereIsPermanent) {
  const auto order = order_of({{"a", 10}, {"b", 20}});
  const std::vector<HostAddresses> per{{kNx, kNx}, {kNoData, kNoData}};
  const auto p = plan_targets(order, per, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  EXPECT_EQ(p.status, PlanStatus::NoAddresses);
  EXPECT_EQ(p.enhanced_status(), "5.4.4");
  // The family not wanted is not looked at, even when it "failed".
  const auto only = order_of({{"a", 10}});
  const std::vector<HostAddresses> v4only{{kFail, addrs({"192.0.2.1"})}};
  EXPECT_EQ(plan_targets(only, v4only, FamilyPreference::Ipv4Only, 5, kNoSelfAddr).status,
            PlanStatus::Ok);
}

TEST(PlanTargets, FailedOrderPassedOn) {
  const HostOrder o{PlanStatus::NullMx, {}, "no mail"};
  const auto p = plan_targets(o, {}, FamilyPreference::Ipv6First, 5, kNoSelfAddr);
  EXPECT_EQ(p.status, PlanStatus::NullMx);
  EXPECT_EQ(p.reason, "no mail");
  EXPECT_EQ(p.reply_code(), 556);
}

TEST(PlanTargets, SelfAddressPrunesThatHostAndWorse) {
  const std::vector<inet::IpAddress> self{ip("192.0.2.20")};
  const auto order = order_of({{"a", 10}, {"b", 20}, {"c", 20}, {"d", 30}});
  const std::vector<HostAddresses> per{{kNoData, addrs({"192.0.2.10"})},
                                       {kNoData, addrs({"192.0.2.21"})},
                                       {kNoData, addrs({"192.0.2.20"})},
                                       {kNoData, addrs({"192.0.2.30"})}};
  const auto p = plan_targets(order, per, FamilyPreference::Ipv4First, 5, self);
  ASSERT_EQ(p.status, PlanStatus::Ok);
  EXPECT_EQ(target_text(p), (std::vector<std::string>{"10 a 192.0.2.10"}));
  // The best host is us: a loop. A v4-mapped self address matches too.
  const std::vector<inet::IpAddress> mapped{ip("::ffff:192.0.2.10")};
  const auto loop = plan_targets(order, per, FamilyPreference::Ipv4First, 5, mapped);
  EXPECT_EQ(loop.status, PlanStatus::LoopsToSelf);
  EXPECT_EQ(loop.reply_code(), 554);
  EXPECT_NE(loop.reason.find("192.0.2.10"), std::string::npos);
  // The implicit MX resolving to us.
  HostOrder implicit{PlanStatus::Ok, {{"example.org", 0, true}}, ""};
  const std::vector<HostAddresses> one{{kNoData, addrs({"192.0.2.10"})}};
  EXPECT_EQ(plan_targets(implicit, one, FamilyPreference::Ipv6First, 5, mapped).status,
            PlanStatus::LoopsToSelf);
}

TEST(PlanLiteral, NotALiteral) {
  EXPECT_FALSE(plan_literal("example.org", FamilyPreference::Ipv6First, kNoSelfAddr));
}

TEST(PlanLiteral, V4AndV6) {
  auto p = plan_literal("[127.0.0.2]", FamilyPreference::Ipv6First, kNoSelfAddr);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, PlanStatus::Ok);
  EXPECT_EQ(target_text(*p), (std::vector<std::string>{"0 [127.0.0.2] 127.0.0.2"}));
  p = plan_literal("[IPv6:::1]", FamilyPreference::Ipv6First, kNoSelfAddr);
  ASSERT_TRUE(p);
  EXPECT_EQ(target_text(*p), (std::vector<std::string>{"0 [IPv6:::1] ::1"}));
  p = plan_literal("[ipv6:2001:DB8::1]", FamilyPreference::Ipv4First, kNoSelfAddr);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->targets.at(0).address.to_string(), "2001:db8::1");
  // A v4-mapped IPv6 literal is the IPv4 host.
  p = plan_literal("[IPv6:::ffff:192.0.2.1]", FamilyPreference::Ipv4Only, kNoSelfAddr);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->targets.at(0).address.to_string(), "192.0.2.1");
}

TEST(PlanLiteral, Unusable) {
  for (const char* bad : {"[", "[]", "[127.0.0.256]", "[::1]", "[IPv6:127.0.0.1]",
                          "[x-tag:whatever]", "[127.0.0.1"}) {
    const auto p = plan_literal(bad, FamilyPreference::Ipv6First, kNoSelfAddr);
    ASSERT_TRUE(p) << bad;
    EXPECT_EQ(p->status, PlanStatus::NoSuchDomain) << bad;
    EXPECT_EQ(p->enhanced_status(), "5.1.2");
  }
}

TEST(PlanLiteral, FamilyAndSelf) {
  EXPECT_EQ(plan_literal("[IPv6:::1]", FamilyPreference::Ipv4Only, kNoSelfAddr)->status,
            PlanStatus::NoAddresses);
  EXPECT_EQ(plan_literal("[127.0.0.1]", FamilyPreference::Ipv6Only, kNoSelfAddr)->status,
            PlanStatus::NoAddresses);
  const std::vector<inet::IpAddress> self{ip("127.0.0.1")};
  EXPECT_EQ(plan_literal("[127.0.0.1]", FamilyPreference::Ipv6First, self)->status,
            PlanStatus::LoopsToSelf);
  EXPECT_EQ(plan_literal("[127.0.0.2]", FamilyPreference::Ipv6First, self)->status, PlanStatus::Ok);
}

TEST(Family, ParseAndPrint) {
  for (auto f : {FamilyPreference::Ipv6First, FamilyPreference::Ipv4First,
                 FamilyPreference::Ipv4Only, FamilyPreference::Ipv6Only})
    EXPECT_EQ(parse_family(to_string(f)), f);
  EXPECT_FALSE(parse_family("any"));
}
