// ClientSession: STARTTLS (offered, required, refused, injection, handshake failure, implicit
// TLS) and AUTH (PLAIN, LOGIN, SCRAM-SHA-256 against the real sasl:: server mechanisms).
#include <gtest/gtest.h>

#include <memory>

#include "client_test_support.hpp"
#include "fake_sasl_crypto.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/server_mechanism.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::smtp::testing {
namespace {

using client::Outcome;
using client::TlsPolicy;

client::ClientConfig tls_config(TlsPolicy p) {
  auto c = test_client_config();
  c.tls = p;
  return c;
}

TEST(ClientTls, StartTlsWhenOfferedThenEhloAgain) {
  const std::vector<std::string> turns = {kGreeting,
                                          ehlo_reply({"PIPELINING", "STARTTLS"}),
                                          "220 2.0.0 go ahead\r\n",
                                          ehlo_reply({"SIZE 100"}),  // no PIPELINING now
                                          "250 ok\r\n",
                                          "250 ok\r\n",
                                          "354 go\r\n",
                                          "250 ok\r\n",
                                          "221 bye\r\n"};
  const auto run = run_split(tls_config(TlsPolicy::Opportunistic), turns,
                             one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.tls_handshakes, 1);
  EXPECT_EQ(run.written,
            "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\n"
            "MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  EXPECT_FALSE(run.failure);
}

TEST(ClientTls, RequiredButNotOffered) {
  const auto run =
      run_split(tls_config(TlsPolicy::Required), {kGreeting, ehlo_reply({"PIPELINING"})}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->status, "4.7.10");
  EXPECT_EQ(run.failure->reply, "TLS required but not offered by the peer");
  EXPECT_FALSE(run.failure->tls_failed);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
}

TEST(ClientTls, OpportunisticNotOfferedOrNoneOrImplicit) {
  const std::vector<std::string> plain = {kGreeting, ehlo_reply({}), "221 bye\r\n"};
  auto run = run_split(tls_config(TlsPolicy::Opportunistic), plain, {});
  EXPECT_FALSE(run.failure);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");

  const std::vector<std::string> offered = {kGreeting, ehlo_reply({"STARTTLS"}), "221 bye\r\n"};
  run = run_split(tls_config(TlsPolicy::None), offered, {});
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
  auto implicit = tls_config(TlsPolicy::Required);
  implicit.tls_active = true;
  run = run_split(implicit, offered, {});
  EXPECT_FALSE(run.failure);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
  EXPECT_EQ(run.tls_handshakes, 0);
}

TEST(ClientTls, StartTlsRefused) {
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"STARTTLS"}),
                                          "454 4.7.0 TLS not available\r\n", "221 bye\r\n"};
  auto run = run_split(tls_config(TlsPolicy::Opportunistic), turns, {});
  EXPECT_FALSE(run.failure);  // plaintext it is
  EXPECT_EQ(run.written, "EHLO client.example\r\nSTARTTLS\r\nQUIT\r\n");

  run = run_split(tls_config(TlsPolicy::Required), turns, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->stage, "starttls");
  EXPECT_EQ(run.failure->status, "4.7.10");
}

TEST(ClientTls, ResponseInjectionAfter220) {
  for (const std::string injected :
       {"220 go\r\n250 injected\r\n", "220 go\r\n2", "220 go\r\n250-a\r\n", "220 go\r\n\r"}) {
    const auto run = run_split(tls_config(TlsPolicy::Opportunistic),
                               {kGreeting, ehlo_reply({"STARTTLS"}), injected}, {});
    ASSERT_TRUE(run.failure) << injected;
    EXPECT_EQ(run.failure->stage, "starttls");
    EXPECT_EQ(run.tls_handshakes, 0);
    EXPECT_EQ(run.written, "EHLO client.example\r\nSTARTTLS\r\n");
  }
}

TEST(ClientTls, HandshakeFailure) {
  ClientPlan plan;
  plan.tls_ok = false;
  const auto run = run_split(tls_config(TlsPolicy::Opportunistic),
                             {kGreeting, ehlo_reply({"STARTTLS"}), "220 go\r\n"}, plan);
  ASSERT_TRUE(run.failure);
  EXPECT_TRUE(run.failure->tls_failed);
  EXPECT_EQ(run.failure->stage, "tls");
  EXPECT_EQ(run.failure->status, "4.7.5");
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_TRUE(run.failure->before_any_transaction);
}

// ---- AUTH against the real server mechanisms ----

// A server that answers the greeting and EHLO from a script, then plays AUTH with
// sasl::make_server_mechanism for one user "alice" / "s3cret", then accepts any transaction.
struct AuthServerState {
  std::vector<std::string> before;
  std::size_t next = 0;
  test::FakeSaslCrypto crypto;
  sasl::ScramSecret secret;
  std::unique_ptr<sasl::ServerMechanism> mech;
  bool final_pending = false;  // server-final sent, waiting for the client's empty answer
  bool corrupt_final = false;  // flip the server signature
  bool skip_final = false;     // 235 without sending server-final
  std::vector<std::string> seen;
  std::string pipeline;  // MAIL/RCPT/DATA answers
};

std::string answer(AuthServerState& s, sasl::ServerStep step) {
  for (;;) {
    if (auto* v = std::get_if<sasl::VerifyPassword>(&step)) {
      step = s.mech->credentials_checked(v->username == "alice" && v->password == "s3cret");
    } else if (auto* l = std::get_if<sasl::LookupSecret>(&step)) {
      step =
          s.mech->provide_secret(l->username == "alice" ? std::optional(s.secret) : std::nullopt);
    } else if (auto* c = std::get_if<sasl::Challenge>(&step)) {
      return "334 " + base64_encode(c->data) + "\r\n";
    } else if (auto* ok = std::get_if<sasl::Success>(&step)) {
      if (ok->data && !s.skip_final) {
        s.final_pending = true;
        std::string b64 = base64_encode(*ok->data);
        if (s.corrupt_final) b64[4] = b64[4] == 'A' ? 'B' : 'A';
        return "334 " + b64 + "\r\n";
      }
      return "235 2.7.0 ok\r\n";
    } else {
      return "535 5.7.8 authentication failed\r\n";
    }
  }
}

Responder auth_server(std::shared_ptr<AuthServerState> s) {
  return [s](std::string_view written) -> std::optional<std::string> {
    if (s->next < s->before.size()) return s->before[s->next++];
    std::string out;
    std::size_t pos = 0;
    while (pos < written.size()) {
      const std::size_t end = written.find("\r\n", pos);
      if (end == std::string_view::npos) break;
      const std::string line(written.substr(pos, end - pos));
      pos = end + 2;
      s->seen.push_back(line);
      if (line.rfind("AUTH ", 0) == 0) {
        const std::size_t sp = line.find(' ', 5);
        const std::string name = line.substr(5, sp == std::string::npos ? sp : sp - 5);
        s->mech = sasl::make_server_mechanism(name, s->crypto, "stand-in");
        if (!s->mech) return "504 5.5.4 no\r\n";
        std::optional<std::string> ir;
        if (sp != std::string::npos) {
          const std::string arg = line.substr(sp + 1);
          ir = arg == "=" ? std::string()
                          : base64_decode(arg).value_or(
                                "\x01"
                                "bad");
        }
        out += answer(*s, s->mech->start(ir));
      } else if (s->final_pending) {
        s->final_pending = false;
        out += line.empty() ? "235 2.7.0 ok\r\n" : "501 5.5.2 expected nothing\r\n";
      } else if (line == "*") {
        out += "501 5.7.0 cancelled\r\n";
      } else if (s->mech && !s->mech->finished()) {
        out += answer(*s, s->mech->step(base64_decode(line).value_or("\x01"
                                                                     "bad")));
      } else if (line == "QUIT") {
        out += "221 bye\r\n";
      } else if (line == "DATA") {
        out += "354 go\r\n";
      } else if (line == ".") {
        out += "250 2.0.0 queued\r\n";
      } else if (line.rfind("MAIL", 0) == 0 || line.rfind("RCPT", 0) == 0) {
        out += "250 ok\r\n";
      }
    }
    return out;
  };
}

struct AuthCase {
  std::vector<std::string> ehlo;
  bool crypto = true;
  bool corrupt_final = false;
  bool skip_final = false;
  std::string password = "s3cret";
};

struct AuthRun {
  ClientRun run;
  std::vector<std::string> seen;
};

// Runs the AUTH case whole and with the server's octets cut byte by byte and at every offset of
// each turn; the runs must agree.
AuthRun run_auth(const AuthCase& c, const ClientPlan& plan) {
  AuthRun result;
  auto once = [&](const Splitter& split) {
    auto s = std::make_shared<AuthServerState>();
    s->before = {kGreeting,
                 c.ehlo.size() == 1 ? ehlo_reply({c.ehlo[0]}) : ehlo_reply({c.ehlo[0], c.ehlo[1]})};
    auto salted = s->crypto.pbkdf2_sha256("s3cret", "0123456789abcdef", 4096);
    s->secret =
        *sasl::scram_secret_from_salted_password(s->crypto, salted, "0123456789abcdef", 4096);
    s->corrupt_final = c.corrupt_final;
    s->skip_final = c.skip_final;
    test::FakeSaslCrypto client_crypto;
    auto cfg = test_client_config();
    cfg.plaintext_auth = true;
    cfg.credentials = sasl::ClientCredentials{"", "alice", c.password};
    if (c.crypto) cfg.sasl_crypto = &client_crypto;
    AuthRun r{run_client(cfg, auth_server(s), plan, split), s->seen};
    return r;
  };
  result = once({});
  const std::string want = result.run.summary();
  const AuthRun bytes = once([](std::size_t, std::size_t n) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < n; ++i) cuts.push_back(i);
    return cuts;
  });
  EXPECT_EQ(bytes.run.summary(), want);
  for (std::size_t at = 1; at < 40; ++at) {
    const AuthRun split = once([at](std::size_t, std::size_t n) {
      return at < n ? std::vector<std::size_t>{at} : std::vector<std::size_t>{};
    });
    if (split.run.summary() != want) {
      ADD_FAILURE() << "split at " << at << "\n" << split.run.summary() << "\nvs\n" << want;
      break;
    }
  }
  return result;
}

TEST(ClientAuth, PlainWithInitialResponse) {
  const auto r = run_auth({{"AUTH PLAIN LOGIN", "PIPELINING"}, false},
                          one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_GE(r.seen.size(), 1u);
  EXPECT_EQ(r.seen[0], "AUTH PLAIN " + base64_encode(std::string("\0alice\0s3cret", 13)));
  EXPECT_EQ(r.run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
  EXPECT_EQ(r.run.transcript[5], "> AUTH PLAIN ****");
}

TEST(ClientAuth, LoginWhenNothingElse) {
  const auto r = run_auth({{"AUTH LOGIN"}, true}, {});
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_GE(r.seen.size(), 3u);
  EXPECT_EQ(r.seen[0], "AUTH LOGIN");
  EXPECT_EQ(r.seen[1], base64_encode("alice"));
  EXPECT_EQ(r.seen[2], base64_encode("s3cret"));
}

TEST(ClientAuth, ScramPreferredAndServerVerified) {
  const auto r = run_auth({{"AUTH PLAIN SCRAM-SHA-256 LOGIN"}, true},
                          one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_GE(r.seen.size(), 3u);
  EXPECT_EQ(r.seen[0].rfind("AUTH SCRAM-SHA-256 ", 0), 0u);
  EXPECT_EQ(r.seen[2], "");  // the empty answer to server-final
  EXPECT_EQ(r.run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
}

TEST(ClientAuth, ScramNotChosenWithoutCrypto) {
  const auto r = run_auth({{"AUTH SCRAM-SHA-256 PLAIN"}, false}, {});
  EXPECT_FALSE(r.run.failure);
  EXPECT_EQ(r.seen.at(0).rfind("AUTH PLAIN ", 0), 0u);
}

TEST(ClientAuth, ScramBadServerSignatureCancels) {
  const auto r = run_auth({{"AUTH SCRAM-SHA-256"}, true, true}, {});
  ASSERT_TRUE(r.run.failure);
  EXPECT_EQ(r.run.failure->stage, "auth");
  EXPECT_EQ(r.run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(r.seen.at(2), "*");
  EXPECT_EQ(r.run.written.substr(r.run.written.size() - 9), "*\r\nQUIT\r\n");
}

TEST(ClientAuth, ScramWithoutServerFinalIsRefused) {
  const auto r = run_auth({{"AUTH SCRAM-SHA-256"}, true, false, true}, {});
  ASSERT_TRUE(r.run.failure);
  EXPECT_EQ(r.run.failure->stage, "auth");
  EXPECT_EQ(r.run.failure->outcome, Outcome::Deferred);
}

TEST(ClientAuth, WrongPasswordIsFailed) {
  for (const char* mech : {"AUTH PLAIN", "AUTH LOGIN", "AUTH SCRAM-SHA-256"}) {
    const auto r = run_auth({{mech}, true, false, false, "wrong"}, {});
    ASSERT_TRUE(r.run.failure) << mech;
    EXPECT_EQ(r.run.failure->outcome, Outcome::Failed);
    EXPECT_EQ(r.run.failure->reply, "535 5.7.8 authentication failed");
    EXPECT_EQ(r.run.failure->status, "5.7.8");
  }
}

TEST(ClientAuth, TemporaryFailureIsDeferred) {
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "s3cret"};
  const auto run =
      run_split(cfg, {kGreeting, ehlo_reply({"AUTH PLAIN"}), "454 4.7.0 try later\r\n"}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->status, "4.7.0");
}

TEST(ClientAuth, NotOfferedOrNoTls) {
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "s3cret"};
  auto run = run_split(cfg, {kGreeting, ehlo_reply({"PIPELINING"})}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->reply, "AUTH not offered by the peer");
  run = run_split(cfg, {kGreeting, ehlo_reply({"AUTH CRAM-MD5"})}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->reply, "AUTH offered without a usable mechanism");

  cfg.plaintext_auth = false;
  run = run_split(cfg, {kGreeting, ehlo_reply({"AUTH PLAIN"})}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");  // no password in plaintext
}

TEST(ClientAuth, AfterStartTls) {
  auto cfg = tls_config(TlsPolicy::Opportunistic);
  cfg.credentials = sasl::ClientCredentials{"", "alice", "s3cret"};
  const auto run = run_split(cfg,
                             {kGreeting, ehlo_reply({"STARTTLS"}), "220 go\r\n",
                              ehlo_reply({"AUTH PLAIN"}), "235 2.7.0 ok\r\n", "221 bye\r\n"},
                             {});
  EXPECT_FALSE(run.failure);
  EXPECT_NE(run.written.find("STARTTLS\r\nEHLO client.example\r\nAUTH PLAIN "), std::string::npos);
}

}  // namespace
}  // namespace taube::smtp::testing

namespace taube::smtp::testing {
namespace {

TEST(ClientAuth, LongInitialResponseWaitsForTheEmptyChallenge) {
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", std::string(600, 'p')};
  const auto run = run_split(
      cfg, {kGreeting, ehlo_reply({"AUTH PLAIN"}), "334 \r\n", "235 2.7.0 ok\r\n", "221 bye\r\n"},
      {});
  EXPECT_FALSE(run.failure) << run.summary();
  const std::string b64 = base64_encode(std::string("\0alice\0", 7) + std::string(600, 'p'));
  EXPECT_EQ(run.written, "EHLO client.example\r\nAUTH PLAIN\r\n" + b64 + "\r\nQUIT\r\n");
  EXPECT_EQ(run.transcript.at(4), "> AUTH PLAIN");
  EXPECT_EQ(run.transcript.at(6), "> ****");
}

TEST(ClientAuth, BadChallengeIsCancelled) {
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "s3cret"};
  const auto run = run_split(
      cfg, {kGreeting, ehlo_reply({"AUTH LOGIN"}), "334 not*base64\r\n", "501 5.7.0 cancelled\r\n"},
      {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.written, "EHLO client.example\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n");
}

}  // namespace
}  // namespace taube::smtp::testing
