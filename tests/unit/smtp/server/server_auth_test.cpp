// STARTTLS (RFC 3207) and AUTH (RFC 4954) in the session: PLAIN, LOGIN and SCRAM-SHA-256 with
// the real sasl:: mechanisms (SCRAM over the deterministic reference crypto).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_sasl_crypto.hpp"
#include "sasl/client_mechanism.hpp"
#include "sasl/scram_crypto.hpp"
#include "session_test_util.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::smtp {
namespace {

// ---- STARTTLS (RFC 3207) ----

TEST(SessionTls, PlaintextPipelinedAfterStarttlsIsDiscarded) {
  ChannelPolicy p;
  p.starttls = true;
  SessionDriver d(test_config(), {}, p);
  d.start();
  // CVE-2011-0411: "MAIL FROM" injected in the same packet as STARTTLS must not run.
  const auto rs = replies_to(d, kEhlo + "STARTTLS\r\n" + kMail + "RCPT TO:<bob@example.org>\r\n");
  EXPECT_EQ(codes(rs), "250,220 2.0.0");
  EXPECT_EQ(d.event_kinds(), std::vector<EventKind>{EventKind::StartTls});
  EXPECT_TRUE(d.session().client().tls);
  EXPECT_FALSE(d.session().in_transaction());
  // After the handshake: HELO knowledge is gone, STARTTLS is no longer offered.
  EXPECT_EQ(codes(replies_to(d, kMail)), "503 5.5.1");
  const auto ehlo = replies_to(d, kEhlo);
  for (const auto& l : ehlo.at(0).lines) EXPECT_EQ(l.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(codes(replies_to(d, "STARTTLS\r\n" + kMail)), "503 5.5.1,250 2.1.0");
}

TEST(SessionTls, StarttlsRules) {
  ChannelPolicy p;
  p.starttls = true;
  SessionDriver d(test_config(), {}, p);
  d.start();
  EXPECT_EQ(codes(replies_to(d, "STARTTLS now\r\n")), "501 5.5.4");
  p.tls_required = true;
  SessionDriver r(test_config(), {}, p);
  r.start();
  EXPECT_EQ(codes(replies_to(r, kEhlo + kMail)), "250,530 5.7.0");
}

// ---- AUTH (RFC 4954) ----

ChannelPolicy auth_policy() {
  ChannelPolicy p;
  p.auth = true;
  p.plaintext_auth = true;
  return p;
}

std::unique_ptr<SessionDriver> auth_driver() {
  auto d = std::make_unique<SessionDriver>(test_config(), testing::SessionAnswers{}, auth_policy());
  d->start();
  return d;
}

TEST(SessionAuth, PlainSuccessAndFailure) {
  auto d = auth_driver();
  // base64("\0alice\0secret") = AGFsaWNlAHNlY3JldA==
  EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n" + kMail)),
            "250,235 2.7.0,250 2.1.0");
  EXPECT_EQ(d->session().client().auth_user, "alice");
  auto f = auth_driver();
  // base64("\0alice\0wrong") = AGFsaWNlAHdyb25n
  EXPECT_EQ(codes(replies_to(*f, kEhlo + "AUTH PLAIN AGFsaWNlAHdyb25n\r\n")), "250,535 5.7.8");
  EXPECT_EQ(f->session().client().auth_user, "");
}

TEST(SessionAuth, LoginExchange) {
  auto d = auth_driver();
  // "alice" = YWxpY2U=, "secret" = c2VjcmV0
  const auto rs = replies_to(*d, kEhlo + "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
  EXPECT_EQ(codes(rs), "250,334,334,235 2.7.0");
  EXPECT_EQ(rs.at(1).last_line(), "334 VXNlcm5hbWU6");
  EXPECT_EQ(rs.at(2).last_line(), "334 UGFzc3dvcmQ6");
}

TEST(SessionAuth, Rules) {
  auto d = auth_driver();
  EXPECT_EQ(codes(replies_to(*d, "AUTH PLAIN\r\n")), "503 5.5.1");  // EHLO first
  EXPECT_EQ(codes(replies_to(*d, kEhlo + "AUTH CRAM-MD5\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN !!\r\n")),
            "250,504 5.5.4,334,501 5.7.0,501 5.5.2");
  EXPECT_EQ(codes(replies_to(*d, kMail + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")),
            "250 2.1.0,503 5.5.1");
  ChannelPolicy p;
  p.auth = true;  // but not in plaintext
  SessionDriver n(test_config(), {}, p);
  n.start();
  EXPECT_EQ(codes(replies_to(n, kEhlo + "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")), "250,538 5.7.11");
}

// ---- AUTH SCRAM-SHA-256 (RFC 5802, RFC 7677): a real exchange with sasl::'s client ----

ChannelPolicy scram_policy() {
  ChannelPolicy p = auth_policy();
  p.scram = true;
  return p;
}

// A session with the deterministic reference crypto, whose users are alice / pencil (with a
// SCRAM secret) and nobody else.
struct ScramFixture {
  test::FakeSaslCrypto crypto;
  SessionConfig cfg = test_config();
  sasl::ScramSecret alice;
  std::vector<std::string> lookups;   // the user names the session asked secrets for
  std::vector<std::string> failures;  // the reasons of the Failed pauses
  std::unique_ptr<SessionDriver> d;

  ScramFixture() {
    cfg.sasl_crypto = &crypto;
    cfg.sasl_stand_in_key = std::string(32, 'k');
    const std::string salt = "0123456789abcdef";
    auto secret = sasl::scram_secret_from_salted_password(
        crypto, crypto.pbkdf2_sha256("pencil", salt, 4096), salt, 4096);
    EXPECT_TRUE(secret);
    alice = *secret;
    testing::SessionAnswers a;
    a.auth = [this](ServerSession& s) {
      const AuthRequest& req = s.auth_request();
      switch (req.need) {
        case AuthRequest::Need::LookupSecret:
          lookups.push_back(req.username);
          s.auth_secret(req.username == "alice" ? std::optional(alice) : std::nullopt);
          return;
        case AuthRequest::Need::VerifyPassword:
          s.auth_checked(false);
          return;
        case AuthRequest::Need::Failed:
          failures.push_back(req.reason);
          s.auth_failed();
          return;
      }
    };
    d = std::make_unique<SessionDriver>(cfg, a, scram_policy());
    d->start();
    replies_to(*d, kEhlo);
  }

  // Runs the client side of SCRAM-SHA-256 for `user`/`password` against the session; returns
  // the reply codes of the whole exchange.
  std::string login(const std::string& user, const std::string& password) {
    test::FakeSaslCrypto client_crypto;
    auto client = sasl::make_client_mechanism("SCRAM-SHA-256", {"", user, password}, client_crypto);
    auto first = client->initial_response();
    EXPECT_TRUE(first && *first);
    auto rs = replies_to(*d, "AUTH SCRAM-SHA-256 " + base64_encode(**first) + "\r\n");
    std::string all = codes(rs);
    while (!rs.empty() && rs.back().code == 334) {
      const std::string challenge = *base64_decode(rs.back().last_line().substr(4));
      std::string answer;
      if (challenge.rfind("v=", 0) == 0) {
        EXPECT_TRUE(client->succeeded(challenge)) << "the server's signature verifies";
      } else {
        auto r = client->respond(challenge);
        if (!r) return all + ",client:" + r.error();
        answer = base64_encode(*r);
      }
      rs = replies_to(*d, answer + "\r\n");
      all += "," + codes(rs);
    }
    return all;
  }
};

TEST(SessionScram, AdvertisedOnlyWhenOffered) {
  const auto plain = ehlo_lines(test_config(), auth_policy());
  EXPECT_NE(std::find(plain.begin(), plain.end(), "AUTH PLAIN LOGIN"), plain.end());
  auto p = auth_driver();
  EXPECT_EQ(codes(replies_to(*p, kEhlo + "AUTH SCRAM-SHA-256\r\n")), "250,504 5.5.4");
  const auto scram = ehlo_lines(test_config(), scram_policy());
  EXPECT_NE(std::find(scram.begin(), scram.end(), "AUTH PLAIN LOGIN SCRAM-SHA-256"), scram.end());
}

TEST(SessionScram, FullExchangeWithTheRealMechanisms) {
  ScramFixture f;
  // server-first (334), server-final (334), then 235 for the client's empty response.
  EXPECT_EQ(f.login("alice", "pencil"), "334,334,235 2.7.0");
  EXPECT_EQ(f.d->session().client().auth_user, "alice");
  EXPECT_EQ(f.lookups, std::vector<std::string>{"alice"});
  EXPECT_TRUE(f.failures.empty());
  EXPECT_EQ(f.d->event_kinds().back(), EventKind::Authenticated);
}

TEST(SessionScram, WrongPasswordAndUnknownUserLookTheSame) {
  ScramFixture wrong;
  EXPECT_EQ(wrong.login("alice", "wrong"), "334,535 5.7.8");
  EXPECT_EQ(wrong.d->session().client().auth_user, "");
  ScramFixture unknown;
  EXPECT_EQ(unknown.login("mallory", "pencil"), "334,535 5.7.8");
  EXPECT_EQ(unknown.lookups, std::vector<std::string>{"mallory"});
  ASSERT_EQ(unknown.failures.size(), 1u);  // every failure pauses as Failed (throttle, delay)
}

TEST(SessionScram, ProtocolFailures) {
  ScramFixture f;
  const std::string first = base64_encode("n,,n=alice,r=cnonce");
  // Cancelled; bad base64; channel binding; another identity; malformed: no success, ever.
  EXPECT_EQ(codes(replies_to(*f.d, "AUTH SCRAM-SHA-256 " + first + "\r\n*\r\n")), "334,501 5.7.0");
  EXPECT_EQ(codes(replies_to(*f.d, "AUTH SCRAM-SHA-256 !!\r\n")), "501 5.5.2");
  EXPECT_EQ(codes(replies_to(
                *f.d, "AUTH SCRAM-SHA-256 " + base64_encode("p=tls-unique,,n=alice,r=x") + "\r\n")),
            "535 5.7.8");
  EXPECT_EQ(codes(replies_to(
                *f.d, "AUTH SCRAM-SHA-256 " + base64_encode("n,a=bob,n=alice,r=x") + "\r\n")),
            "535 5.7.8");
  EXPECT_EQ(codes(replies_to(*f.d, "AUTH SCRAM-SHA-256 " + base64_encode("n,,r=x") + "\r\n")),
            "535 5.7.8");
  EXPECT_EQ(f.d->session().client().auth_user, "");
  EXPECT_EQ(f.failures.size(), 3u);
}

TEST(SessionScram, NonEmptyAnswerToTheServerSignatureFails) {
  ScramFixture f;
  test::FakeSaslCrypto cc;
  auto client = sasl::make_client_mechanism("SCRAM-SHA-256", {"", "alice", "pencil"}, cc);
  auto first = client->initial_response();
  auto rs = replies_to(*f.d, "AUTH SCRAM-SHA-256 " + base64_encode(**first) + "\r\n");
  ASSERT_EQ(codes(rs), "334");
  auto final_msg = client->respond(*base64_decode(rs.back().last_line().substr(4)));
  ASSERT_TRUE(final_msg);
  rs = replies_to(*f.d, base64_encode(*final_msg) + "\r\n");
  ASSERT_EQ(codes(rs), "334");  // v=...: the proof was right
  EXPECT_EQ(codes(replies_to(*f.d, base64_encode("x") + "\r\n")), "535 5.7.8");
  EXPECT_EQ(f.d->session().client().auth_user, "");
}

TEST(SessionScram, WithoutCryptoScramNeverSucceeds) {
  SessionConfig cfg = test_config();  // no sasl_crypto
  testing::SessionAnswers a;
  a.auth = [](ServerSession& s) {
    if (s.auth_request().need == AuthRequest::Need::LookupSecret)
      s.auth_secret(sasl::ScramSecret{4096, std::string(16, 's'), std::string(32, 'k'),
                                      std::string(32, 'k')});
    else
      s.auth_failed();
  };
  SessionDriver d(cfg, a, scram_policy());
  d.start();
  const auto rs =
      replies_to(d, kEhlo + "AUTH SCRAM-SHA-256 " + base64_encode("n,,n=alice,r=cnonce") + "\r\n");
  EXPECT_EQ(codes(rs), "250,535 5.7.8");
}

}  // namespace
}  // namespace taube::smtp
