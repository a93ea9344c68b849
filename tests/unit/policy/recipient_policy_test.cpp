// Recipient policy with SRS (policy/recipient_policy.hpp): bounce addresses at the SRS domain are
// reversed and relayed only when they verify; forwarded mail gets an SRS reverse-path.
#include "policy/recipient_policy.hpp"

#include <gtest/gtest.h>

#include "crypto/crypto.hpp"

namespace taube::policy {
namespace {

using K = smtp::RcptVerdictKind;
using Route = smtp::Destination::Route;
constexpr std::int64_t kDay = 20000;

Directory directory(bool catch_all = false) {
  DirectoryConfig c;
  c.mail_root = "/m";
  c.domains = {"example.org", "example.net"};
  c.users = {{"alice@example.org", ""}, {"carol@example.org", ""}};
  c.aliases = {{"fwd@example.org", {"bob@remote.test"}},
               {"team@example.org", {"carol@example.org", "dave@remote.test"}}};
  if (catch_all) c.catch_all = "carol@example.org";
  auto d = Directory::create(std::move(c));
  EXPECT_TRUE(d) << d.error();
  return std::move(*d);
}

std::shared_ptr<const Srs> srs(std::string domain = "", bool enabled = true,
                               std::vector<std::string> exclude = {}) {
  SrsConfig c;
  c.enabled = enabled;
  c.domain = std::move(domain);
  c.secrets = {"s3cret"};
  c.exclude_domains = std::move(exclude);
  return std::make_shared<const Srs>(c, [](std::string_view k, std::string_view d) {
    return crypto::hmac_sha1(k, d).value_or(std::string());
  });
}

RelayRules rules(std::shared_ptr<const Srs> s, std::int64_t day = kDay) {
  RelayRules r;
  r.srs = std::move(s);
  r.today = [day] { return day; };
  return r;
}

smtp::Mailbox mb(std::string local, std::string domain) {
  return {std::move(local), std::move(domain), false};
}

ClientFacts stranger() {
  ClientFacts c;
  c.address = *inet::IpAddress::parse("192.0.2.7");
  return c;
}

// The local part of the SRS address `srs` makes for `addr` on kDay.
std::string srs_local(const Srs& s, const std::string& addr, std::int64_t day = kDay) {
  auto f = s.forward(addr, day);
  EXPECT_TRUE(f) << addr;
  return f ? f->substr(0, f->rfind('@')) : std::string();
}

TEST(RecipientPolicySrs, AValidBounceAddressIsRelayedToTheOriginalSender) {
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  const auto v = p.decide(stranger(), mb(srs_local(*s, "someone@outside.test"), "SRS.example.org"));
  EXPECT_EQ(v.kind, K::Accept);
  ASSERT_EQ(v.destinations.size(), 1u);
  EXPECT_EQ(v.destinations[0].route, Route::Queue);
  EXPECT_EQ(v.destinations[0].target, "someone@outside.test");
  // Any case of the local part verifies (libsrs2 compares case-insensitively).
  std::string upper = srs_local(*s, "someone@outside.test");
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto u = p.decide(stranger(), mb(upper, "srs.example.org"));
  EXPECT_EQ(u.kind, K::Accept);
  ASSERT_EQ(u.destinations.size(), 1u);
  EXPECT_EQ(u.destinations[0].target, "SOMEONE@OUTSIDE.TEST");
}

TEST(RecipientPolicySrs, ForgedOrExpiredAddressesAreRefused) {
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  std::string lp = srs_local(*s, "someone@outside.test");
  std::string tampered = lp;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(p.decide(stranger(), mb(tampered, "srs.example.org")).kind, K::SrsInvalid);
  // Another target under the same hash: the hash covers the address.
  std::string retargeted = lp;
  retargeted.replace(retargeted.find("outside.test"), 7, "victim1");
  EXPECT_EQ(p.decide(stranger(), mb(retargeted, "srs.example.org")).kind, K::SrsInvalid);
  EXPECT_EQ(p.decide(stranger(), mb("SRS0=junk", "srs.example.org")).kind, K::SrsInvalid);
  const RecipientPolicy later(d, rules(s, kDay + 22));
  EXPECT_EQ(later.decide(stranger(), mb(lp, "srs.example.org")).kind, K::SrsExpired);
  const RecipientPolicy still(d, rules(s, kDay + 21));
  EXPECT_EQ(still.decide(stranger(), mb(lp, "srs.example.org")).kind, K::Accept);
}

TEST(RecipientPolicySrs, OnlyTheSrsDomainIsReversed) {
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  const std::string lp = srs_local(*s, "someone@outside.test");
  // Elsewhere it is an ordinary address: relaying is still refused to this client.
  EXPECT_EQ(p.decide(stranger(), mb(lp, "other.test")).kind, K::RelayDenied);
  EXPECT_EQ(p.decide(stranger(), mb(lp, "example.net")).kind, K::UserUnknown);
  // An ordinary local part at the SRS domain (not local here) is not ours either.
  EXPECT_EQ(p.decide(stranger(), mb("alice", "srs.example.org")).kind, K::RelayDenied);
}

TEST(RecipientPolicySrs, DisabledSrsTreatsSrsLocalPartsAsOrdinary) {
  const Directory d = directory();
  const auto on = srs("example.org");
  const std::string lp = srs_local(*on, "someone@outside.test");
  const RecipientPolicy off(d, rules(srs("example.org", false)));
  EXPECT_EQ(off.decide(stranger(), mb(lp, "example.org")).kind, K::UserUnknown);
  const RecipientPolicy none(d, RelayRules{});
  EXPECT_EQ(none.decide(stranger(), mb(lp, "example.org")).kind, K::UserUnknown);
  // With a catch-all the SRS-looking address is just another unknown local part...
  const Directory dc = directory(true);
  const RecipientPolicy off_c(dc, rules(srs("example.org", false)));
  EXPECT_EQ(off_c.decide(stranger(), mb("SRS0=FAKE=RA=x.test=y", "example.org")).kind, K::Accept);
  // ...but with SRS on, a forged one at the SRS domain is refused, not caught.
  const RecipientPolicy on_c(dc, rules(srs("example.org")));
  EXPECT_EQ(on_c.decide(stranger(), mb("SRS0=FAKE=RA=x.test=y", "example.org")).kind,
            K::SrsInvalid);
}

TEST(RecipientPolicySrs, TheDefaultDomainIsTheFirstLocalDomain) {
  const Directory d = directory();
  const RecipientPolicy p(d, rules(srs("")));
  const auto s = srs("example.org");
  EXPECT_EQ(p.decide(stranger(), mb(srs_local(*s, "x@outside.test"), "Example.ORG")).kind,
            K::Accept);
  smtp::Envelope env;
  env.sender.mailbox = mb("x", "outside.test");
  smtp::Recipient r{mb("fwd", "example.org"), {}, {{Route::Queue, "bob@remote.test"}}};
  env.recipients.push_back(r);
  auto q = p.queue_sender(env, kDay);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->mailbox.domain, "example.org");
}

TEST(RecipientPolicySrs, ReversedToALocalDomainIsDeliveredLocally) {
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  // Made when example.net was not local (forward() itself does not know the local domains).
  const auto v = p.decide(stranger(), mb(srs_local(*s, "alice@example.org"), "srs.example.org"));
  EXPECT_EQ(v.kind, K::Accept);
  ASSERT_EQ(v.destinations.size(), 1u);
  EXPECT_EQ(v.destinations[0].route, Route::Mailbox);
  EXPECT_EQ(p.decide(stranger(), mb(srs_local(*s, "nobody@example.org"), "srs.example.org")).kind,
            K::UserUnknown);
}

smtp::Envelope envelope(std::string from_local, std::string from_domain) {
  smtp::Envelope env;
  env.sender.mailbox = mb(std::move(from_local), std::move(from_domain));
  return env;
}

void add(smtp::Envelope& env, smtp::Mailbox rcpt, std::vector<smtp::Destination> dests) {
  env.recipients.push_back({std::move(rcpt), {}, std::move(dests)});
}

TEST(RecipientPolicySrs, ForwardedMailGetsAnSrsSender) {
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  auto env = envelope("someone", "outside.test");
  add(env, mb("fwd", "example.org"), {{Route::Queue, "bob@remote.test"}});
  auto q = p.queue_sender(env, kDay);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->mailbox.to_string(), *s->forward("someone@outside.test", kDay));
  EXPECT_TRUE(q->mailbox.local_part.starts_with("SRS0="));
  // Taking the recipient decisions from the policy itself: the same answer.
  auto env2 = envelope("someone", "outside.test");
  const auto v = p.decide(stranger(), mb("team", "example.org"));
  add(env2, mb("team", "example.org"), v.destinations);
  EXPECT_TRUE(p.queue_sender(env2, kDay));
}

TEST(RecipientPolicySrs, SendersThatStayAsTheyAre) {
  const Directory d = directory();
  const RecipientPolicy p(d, rules(srs("srs.example.org", true, {"partner.test"})));
  auto forwarded = [](smtp::Envelope env) {
    add(env, mb("fwd", "example.org"), {{Route::Queue, "bob@remote.test"}});
    return env;
  };
  smtp::Envelope null_sender;
  null_sender.sender.null = true;
  EXPECT_FALSE(p.queue_sender(forwarded(null_sender), kDay));                       // a bounce
  EXPECT_FALSE(p.queue_sender(forwarded(envelope("alice", "Example.ORG")), kDay));  // local
  EXPECT_FALSE(p.queue_sender(forwarded(envelope("x", "SRS.example.org")), kDay));
  EXPECT_FALSE(p.queue_sender(forwarded(envelope("x", "Partner.test")), kDay));  // excluded
  smtp::Envelope literal = envelope("x", "[192.0.2.1]");
  literal.sender.mailbox.domain_is_literal = true;
  EXPECT_FALSE(p.queue_sender(forwarded(literal), kDay));
  // Relayed and local recipients only: nothing is forwarded.
  auto relayed = envelope("x", "outside.test");
  add(relayed, mb("bob", "remote.test"), {{Route::Queue, "bob@remote.test"}});
  add(relayed, mb("alice", "example.org"), {{Route::Mailbox, "/m/example.org/alice"}});
  EXPECT_FALSE(p.queue_sender(relayed, kDay));
  // One forwarded recipient among them: the queued copies share one reverse-path.
  add(relayed, mb("fwd", "example.org"), {{Route::Queue, "bob@remote.test"}});
  EXPECT_TRUE(p.queue_sender(relayed, kDay));
  // SRS off: never.
  const RecipientPolicy off(d, rules(srs("srs.example.org", false)));
  EXPECT_FALSE(off.queue_sender(forwarded(envelope("x", "outside.test")), kDay));
}

TEST(RecipientPolicySrs, AForeignSrsSenderBecomesSrs1) {
  const Directory d = directory();
  const RecipientPolicy p(d, rules(srs("srs.example.org")));
  auto env = envelope("SRS0=abcd=RA=orig.test=u", "first.test");
  add(env, mb("fwd", "example.org"), {{Route::Queue, "bob@remote.test"}});
  auto q = p.queue_sender(env, kDay);
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->mailbox.local_part.starts_with("SRS1=")) << q->mailbox.local_part;
  EXPECT_TRUE(q->mailbox.local_part.ends_with("=first.test==abcd=RA=orig.test=u"));
  // And a bounce to it goes back to the first forwarder's SRS0 address.
  const auto v = p.decide(stranger(), q->mailbox);
  EXPECT_EQ(v.kind, K::Accept);
  ASSERT_EQ(v.destinations.size(), 1u);
  EXPECT_EQ(v.destinations[0].target, "SRS0=abcd=RA=orig.test=u@first.test");
}

TEST(RecipientPolicySrs, AReversedBounceToAForwardedRecipientIsForwardedToo) {
  // The bounce itself comes with <>: no rewriting. A reply with a sender is forwarded mail.
  const Directory d = directory();
  const auto s = srs("srs.example.org");
  const RecipientPolicy p(d, rules(s));
  auto env = envelope("responder", "elsewhere.test");
  const smtp::Mailbox to = mb(srs_local(*s, "someone@outside.test"), "srs.example.org");
  add(env, to, p.decide(stranger(), to).destinations);
  EXPECT_TRUE(p.queue_sender(env, kDay));
  env.sender = {};
  env.sender.null = true;
  EXPECT_FALSE(p.queue_sender(env, kDay));
}

}  // namespace
}  // namespace taube::policy
