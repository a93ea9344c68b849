// SRS forward and reverse (policy/srs.hpp). The known vectors come from two independent sources:
// postsrsd's own test suite (tests/unit/test_srs2.c and tests/blackbox/socketmap.py at
// github.com/roehling/postsrsd: secret "tops3cr3t", faketime 1577836860 = day 18262, SRS domain
// example.com), and Python's hmac module:
//
//   import hmac, hashlib, base64
//   def h(secret, *parts):
//       mac = hmac.new(secret.encode(), "".join(parts).lower().encode(), hashlib.sha1).digest()
//       return base64.urlsafe_b64encode(mac)[:4].decode()
//   B = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
//   ts = lambda day: B[(day % 1024) >> 5] + B[day % 32]
//   h("correct horse battery staple", ts(20000), "Example.NET", "John.Doe")  # ts = RA -> 2unP
#include "policy/srs.hpp"

#include <gtest/gtest.h>

#include "crypto/crypto.hpp"

namespace taube::policy {
namespace {

constexpr std::int64_t kPostsrsdDay = 18262;  // 1577836860 / 86400: 2020-01-01, stamp "2W"

HmacSha1 openssl_hmac() {
  return [](std::string_view k, std::string_view d) {
    return crypto::hmac_sha1(k, d).value_or(std::string());
  };
}

Srs make(std::vector<std::string> secrets = {"tops3cr3t"}, std::string domain = "example.com",
         int max_age = 21) {
  SrsConfig c;
  c.enabled = true;
  c.domain = std::move(domain);
  c.secrets = std::move(secrets);
  c.max_age_days = max_age;
  return Srs(c, openssl_hmac());
}

std::string fwd(const Srs& s, std::string_view a, std::int64_t day = kPostsrsdDay) {
  auto r = s.forward(a, day);
  return r ? *r : "error: " + std::string(to_string(r.error()));
}

std::string rev(const Srs& s, std::string_view lp, std::int64_t day = kPostsrsdDay) {
  auto r = s.reverse(lp, day);
  return r ? *r : "error: " + std::string(to_string(r.error()));
}

SrsError rev_error(const Srs& s, std::string_view lp, std::int64_t day = kPostsrsdDay) {
  auto r = s.reverse(lp, day);
  EXPECT_FALSE(r) << lp << " -> " << (r ? *r : "");
  return r ? SrsError::NotSrs : r.error();
}

TEST(Srs, Timestamp) {
  EXPECT_EQ(Srs::timestamp(0), "AA");
  EXPECT_EQ(Srs::timestamp(31), "A7");
  EXPECT_EQ(Srs::timestamp(32), "BA");
  EXPECT_EQ(Srs::timestamp(1023), "77");
  EXPECT_EQ(Srs::timestamp(1024), "AA");  // 2^10 days, then it wraps
  EXPECT_EQ(Srs::timestamp(kPostsrsdDay), "2W");
  EXPECT_EQ(srs_day(1577836860), kPostsrsdDay);
  EXPECT_EQ(srs_day(86399), 0);
  EXPECT_EQ(srs_day(86400), 1);
}

TEST(Srs, PostsrsdForwardVectors) {
  const Srs s = make();
  EXPECT_EQ(fwd(s, "test@otherdomain.com"), "SRS0=vmyz=2W=otherdomain.com=test@example.com");
  // Our own domain is not rewritten (srs_forward without alwaysrewrite), in any case.
  EXPECT_EQ(fwd(s, "test@example.com"), "test@example.com");
  EXPECT_EQ(fwd(s, "test@EXAMPLE.com"), "test@EXAMPLE.com");
  EXPECT_EQ(fwd(s, "foo"), "error: no at sign in the sender address");
  // base64url: '-' and '_' where classic libsrs2 wrote '+' and '/'.
  EXPECT_EQ(fwd(s, "hash234@somedomain.com"), "SRS0=-3_5=2W=somedomain.com=hash234@example.com");
  // A foreign SRS0 becomes SRS1 (the SRS0 part is opaque); a foreign SRS1 is re-signed.
  EXPECT_EQ(fwd(s, "SRS0=opaque+string@otherdomain.com"),
            "SRS1=chaI=otherdomain.com==opaque+string@example.com");
  EXPECT_EQ(fwd(s, "SRS1=X=thirddomain.com==opaque+string@otherdomain.com"),
            "SRS1=JIBX=thirddomain.com==opaque+string@example.com");
}

TEST(Srs, PostsrsdReverseVectors) {
  const Srs s = make();
  EXPECT_EQ(rev(s, "SRS0=XjO9=2V=otherdomain.com=test"), "test@otherdomain.com");
  EXPECT_EQ(rev(s, "SRS1=JIBX=thirddomain.com==opaque+string"),
            "SRS0=opaque+string@thirddomain.com");
  EXPECT_EQ(rev_error(s, "test"), SrsError::NotSrs);
  // Valid hashes, stamps 215 days old and "6 months in the future" (= 873 days old mod 1024).
  EXPECT_EQ(rev_error(s, "SRS0=te87=T7=otherdomain.com=test"), SrsError::Expired);
  EXPECT_EQ(rev_error(s, "SRS0=VcIb=7N=otherdomain.com=test"), SrsError::Expired);
  EXPECT_EQ(rev_error(s, "SRS0=FAKE=2V=otherdomain.com=test"), SrsError::HashInvalid);
  // Any case, either base64 alphabet (libsrs2 base64_equivalent).
  EXPECT_EQ(rev(s, "srs0=xjo9=2v=otherdomain.com=test"), "test@otherdomain.com");
  EXPECT_EQ(rev(s, "SRS0=XJO9=2V=OTHERDOMAIN.COM=TEST"), "TEST@OTHERDOMAIN.COM");
  EXPECT_EQ(rev(s, "SRS0=-3_5=2W=somedomain.com=hash234"), "hash234@somedomain.com");
  EXPECT_EQ(rev(s, "SRS0=+3/5=2W=somedomain.com=hash234"), "hash234@somedomain.com");
  EXPECT_EQ(rev_error(s, "SRS0=+3.5=2W=somedomain.com=hash234"), SrsError::HashInvalid);
  // Missing fields.
  EXPECT_EQ(rev_error(s, "SRS0="), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9"), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=2V"), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=2V=otherdomain.com"), SrsError::Malformed);
}

TEST(Srs, PythonVectors) {
  const Srs s = make({"correct horse battery staple"}, "fwd.example");
  // The output keeps the sender's case; the hash is of the lowercased parts.
  EXPECT_EQ(fwd(s, "John.Doe@Example.NET", 20000), "SRS0=2unP=RA=Example.NET=John.Doe@fwd.example");
  EXPECT_EQ(fwd(s, "x=y@b.example", 20000), "SRS0=ygpQ=RA=b.example=x=y@fwd.example");
  // A user with '=' in it: only the first three separators count.
  EXPECT_EQ(rev(s, "SRS0=ygpQ=RA=b.example=x=y", 20000), "x=y@b.example");
  EXPECT_EQ(rev(s, "SRS0=2UNP=ra=example.net=john.doe", 20003), "john.doe@example.net");
}

TEST(Srs, RoundTrip) {
  const Srs s = make({"k1"}, "fwd.example");
  for (std::string a : {"alice@remote.test", "Bob.Smith@Mixed.Case.Example", "a+tag@x.example",
                        "x=y=z@e.example"}) {
    auto f = s.forward(a, 20000);
    ASSERT_TRUE(f) << a;
    ASSERT_TRUE(f->ends_with("@fwd.example")) << *f;
    const std::string lp = f->substr(0, f->rfind('@'));
    EXPECT_TRUE(Srs::looks_like_srs(lp));
    EXPECT_EQ(rev(s, lp, 20000), a);
    EXPECT_EQ(rev(s, lp, 20021), a);  // max_age_days = 21: still valid
    EXPECT_EQ(rev_error(s, lp, 20022), SrsError::Expired);
  }
}

TEST(Srs, Srs1RoundTripGivesTheFirstForwardersAddress) {
  const Srs first = make({"first-secret"}, "first.example");
  const Srs second = make({"second-secret"}, "second.example");
  auto a = first.forward("orig@origin.example", 20000);
  ASSERT_TRUE(a);
  auto b = second.forward(*a, 20000);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->starts_with("SRS1=")) << *b;
  EXPECT_TRUE(
      b->ends_with("=first.example==" + a->substr(5, a->rfind('@') - 5) + "@second.example"))
      << *b;
  // The second forwarder gives back the first's SRS0 address, which the first reverses.
  const std::string back = rev(second, b->substr(0, b->rfind('@')), 20005);
  EXPECT_EQ(back, *a);
  EXPECT_EQ(rev(first, back.substr(0, back.rfind('@')), 20005), "orig@origin.example");
  // A third forwarder re-signs the SRS1 and keeps the first forwarder.
  const Srs third = make({"third-secret"}, "third.example");
  auto c = third.forward(*b, 20000);
  ASSERT_TRUE(c);
  EXPECT_EQ(rev(third, c->substr(0, c->rfind('@')), 20000), *a);
  // SRS1 has no time stamp of its own: the SRS0 inside is checked by the first forwarder.
  EXPECT_EQ(rev(second, b->substr(0, b->rfind('@')), 20900), *a);
  // Tampering with the first forwarder's host breaks the SRS1 hash.
  std::string lp = b->substr(0, b->rfind('@'));
  lp.replace(lp.find("first.example"), 5, "evil1");
  EXPECT_EQ(rev_error(second, lp, 20000), SrsError::HashInvalid);
}

TEST(Srs, SecretRotation) {
  const Srs old_only = make({"old"});
  auto a = old_only.forward("u@o.example", 20000);
  ASSERT_TRUE(a);
  const std::string lp = a->substr(0, a->rfind('@'));
  const Srs rotated = make({"new", "old"});
  EXPECT_EQ(rev(rotated, lp, 20001), "u@o.example");  // the old secret still verifies
  EXPECT_NE(fwd(rotated, "u@o.example", 20000), *a);  // the new one signs
  EXPECT_EQ(rev_error(make({"new"}), lp, 20001), SrsError::HashInvalid);  // dropped: invalid
}

TEST(Srs, DayWrap) {
  const Srs s = make({"k"}, "fwd.example", 10);
  // Made on day 1020 (stamp "74"), checked on days 1024..1030 (stamps wrap to "AA"...).
  auto a = s.forward("u@o.example", 1020);
  ASSERT_TRUE(a);
  const std::string lp = a->substr(0, a->rfind('@'));
  EXPECT_NE(lp.find("=74="), std::string::npos) << lp;
  EXPECT_EQ(rev(s, lp, 1020), "u@o.example");
  EXPECT_EQ(rev(s, lp, 1030), "u@o.example");  // 10 days: the last valid day
  EXPECT_EQ(rev_error(s, lp, 1031), SrsError::Expired);
  // The same stamp 1024 days later looks fresh again: that is the scheme's 2-character limit.
  EXPECT_EQ(rev(s, lp, 1020 + 1024), "u@o.example");
  // A stamp one day "ahead" of today is ~1023 days old.
  auto b = s.forward("u@o.example", 2001);
  ASSERT_TRUE(b);
  EXPECT_EQ(rev_error(s, b->substr(0, b->rfind('@')), 2000), SrsError::Expired);
}

TEST(Srs, HashLengthAndTimestampSyntax) {
  const Srs s = make();
  EXPECT_EQ(rev_error(s, "SRS0=XjO=2V=otherdomain.com=test"), SrsError::HashTooShort);
  // Longer hashes: only the first four characters are compared (libsrs2 srs_hash_check).
  EXPECT_EQ(rev(s, "SRS0=XjO9zz=2V=otherdomain.com=test"), "test@otherdomain.com");
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=2=otherdomain.com=test"), SrsError::BadTimestamp);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=2VV=otherdomain.com=test"), SrsError::BadTimestamp);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=21=otherdomain.com=test"), SrsError::BadTimestamp);
  EXPECT_EQ(rev_error(s, "SRS0=XjO9=2V==test"), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS1=JIBX=thirddomain.com="), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS1=JIBX"), SrsError::Malformed);
  EXPECT_EQ(rev_error(s, "SRS1=JIBX=thirddomain.com=opaque"), SrsError::HashInvalid);
}

TEST(Srs, LooksLikeSrs) {
  EXPECT_TRUE(Srs::looks_like_srs("SRS0=x"));
  EXPECT_TRUE(Srs::looks_like_srs("srs1+x"));
  EXPECT_TRUE(Srs::looks_like_srs("SrS0-x"));
  EXPECT_FALSE(Srs::looks_like_srs("SRS0"));
  EXPECT_FALSE(Srs::looks_like_srs("SRS2=x"));
  EXPECT_FALSE(Srs::looks_like_srs("SRS0_x"));
  EXPECT_FALSE(Srs::looks_like_srs("xSRS0=x"));
}

TEST(Srs, ForwardRefusesWhatCannotComeBack) {
  const Srs s = make();
  // 64 octets at most in the local part (RFC 5321 §4.5.3.1.1): "SRS0=HHHH=TT=" + host "=" user.
  const std::string user(64 - 13 - 11 - 1, 'u');  // host "o.example12" is 11 octets
  EXPECT_TRUE(s.forward(user + "@o.example12", 20000));
  EXPECT_EQ(s.forward(user + "u@o.example12", 20000).error(), SrsError::TooLong);
  EXPECT_EQ(s.forward("@o.example", 20000).error(), SrsError::Malformed);
  EXPECT_EQ(s.forward("u@", 20000).error(), SrsError::Malformed);
  EXPECT_EQ(make({}).forward("u@o.example", 20000).error(), SrsError::NoSecret);
  EXPECT_EQ(rev_error(make({}), "SRS0=XjO9=2V=otherdomain.com=test"), SrsError::NoSecret);
}

TEST(Srs, ABrokenHmacNeverVerifies) {
  SrsConfig c;
  c.enabled = true;
  c.domain = "example.com";
  c.secrets = {"tops3cr3t"};
  const Srs broken(c, [](std::string_view, std::string_view) { return std::string(); });
  EXPECT_EQ(broken.forward("test@otherdomain.com", kPostsrsdDay).error(), SrsError::Crypto);
  EXPECT_EQ(rev_error(broken, "SRS0=XjO9=2V=otherdomain.com=test"), SrsError::Crypto);
  const Srs none(c, nullptr);
  EXPECT_EQ(rev_error(none, "SRS0=XjO9=2V=otherdomain.com=test"), SrsError::Crypto);
}

TEST(Srs, WithDomain) {
  const Srs s = make({"tops3cr3t"}, "").with_domain("Example.COM");
  EXPECT_EQ(s.config().domain, "example.com");
  EXPECT_EQ(fwd(s, "test@otherdomain.com"), "SRS0=vmyz=2W=otherdomain.com=test@example.com");
}

}  // namespace
}  // namespace taube::policy
