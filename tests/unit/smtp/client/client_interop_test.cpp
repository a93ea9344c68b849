// ClientSession against Taube's own ServerSession (tests/support/session_driver.hpp): the two
// state machines must agree on everything, whichever extensions the server offers, with the
// server's octets split at every byte.
#include <gtest/gtest.h>

#include <memory>

#include "client_test_support.hpp"
#include "session_driver.hpp"

namespace taube::smtp::testing {
namespace {

using client::Outcome;

Responder server_of(std::shared_ptr<SessionDriver> d) {
  return [d](std::string_view written) -> std::optional<std::string> {
    if (d->consumed() == 0 && written.empty() && d->all_output().empty()) {
      d->start();
      return d->take_output();
    }
    d->feed(written);
    std::string out = d->take_output();
    if (out.empty() && d->session().closed()) return std::nullopt;
    return out;
  };
}

struct Interop {
  ClientRun run;
  std::vector<SessionDriver::Committed> commits;
};

Interop run_against_server(const client::ClientConfig& cfg, ChannelPolicy policy,
                           const ClientPlan& plan, const Splitter& split = {}) {
  auto d = std::make_shared<SessionDriver>(test_config(), default_answers(), policy);
  Interop i{run_client(cfg, server_of(d), plan, split), d->commits()};
  return i;
}

// The whole run, then with every turn cut byte by byte and in two at each of the first offsets.
Interop run_all(const client::ClientConfig& cfg, ChannelPolicy policy, const ClientPlan& plan) {
  Interop whole = run_against_server(cfg, policy, plan);
  const std::string want = whole.run.summary();
  auto bytes = run_against_server(cfg, policy, plan, [](std::size_t, std::size_t n) {
    std::vector<std::size_t> c;
    for (std::size_t k = 1; k < n; ++k) c.push_back(k);
    return c;
  });
  EXPECT_EQ(bytes.run.summary(), want);
  for (std::size_t at = 1; at < 64; ++at) {
    auto split = run_against_server(cfg, policy, plan, [at](std::size_t, std::size_t n) {
      return at < n ? std::vector<std::size_t>{at} : std::vector<std::size_t>{};
    });
    if (split.run.summary() != want) {
      ADD_FAILURE() << "split at " << at << "\n" << split.run.summary() << "vs\n" << want;
      break;
    }
  }
  return whole;
}

const std::string kBody = "Subject: t\n\n.\n..two\n.three\nlast line\n";

ClientPlan message_plan() {
  auto m = test_message({"bob@example.org", "unknown1@example.org", "carol@example.org"});
  m.params.size = kBody.size();
  m.params.body = BodyType::EightBitMime;
  m.recipients[0].params.notify = NotifySuccess;
  return one_message(m, {kBody.substr(0, 7), kBody.substr(7)});
}

TEST(ClientInterop, SmtpWithBdatPipeliningAndDsn) {
  const auto r = run_all(test_client_config(), {}, message_plan());
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(r.commits[0].body, kBody);
  EXPECT_TRUE(r.commits[0].envelope.bdat);
  ASSERT_EQ(r.commits[0].envelope.recipients.size(), 2u);
  EXPECT_EQ(r.commits[0].envelope.recipients[0].params.notify, unsigned{NotifySuccess});
  const auto& res = r.run.results.at(0).recipients;
  EXPECT_EQ(res[0].outcome, Outcome::Accepted);
  EXPECT_EQ(res[1].outcome, Outcome::Failed);
  EXPECT_EQ(res[1].status, "5.1.1");
  EXPECT_EQ(res[2].outcome, Outcome::Accepted);
  EXPECT_TRUE(r.run.results[0].dsn_passed_on);
}

TEST(ClientInterop, SmtpWithData) {
  auto cfg = test_client_config();
  cfg.use_bdat = false;
  const auto r = run_all(cfg, {}, message_plan());
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(r.commits[0].body, kBody);
  EXPECT_FALSE(r.commits[0].envelope.bdat);
}

TEST(ClientInterop, StartTlsThenAuthPlain) {
  ChannelPolicy policy;
  policy.starttls = true;
  policy.auth = true;
  auto cfg = test_client_config();
  cfg.tls = client::TlsPolicy::Required;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "secret"};
  const auto r = run_all(cfg, policy, message_plan());
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  EXPECT_EQ(r.run.tls_handshakes, 1);
  ASSERT_EQ(r.commits.size(), 1u);
  EXPECT_EQ(r.commits[0].body, kBody);
}

TEST(ClientInterop, AuthRefused) {
  ChannelPolicy policy;
  policy.auth = true;
  policy.plaintext_auth = true;
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "wrong"};
  const auto r = run_all(cfg, policy, message_plan());
  ASSERT_TRUE(r.run.failure);
  EXPECT_EQ(r.run.failure->outcome, Outcome::Failed);
  EXPECT_EQ(r.run.failure->status, "5.7.8");
  EXPECT_TRUE(r.commits.empty());
}

TEST(ClientInterop, Lmtp) {
  ChannelPolicy policy;
  policy.dialect = Dialect::Lmtp;
  auto cfg = test_client_config();
  cfg.dialect = Dialect::Lmtp;
  ClientPlan plan = message_plan();
  plan.messages.push_back(test_message({"dave@example.org"}));
  plan.contents.push_back({"second\n"});
  const auto r = run_all(cfg, policy, plan);
  EXPECT_FALSE(r.run.failure) << r.run.summary();
  ASSERT_EQ(r.commits.size(), 2u);
  EXPECT_EQ(r.commits[0].body, kBody);
  EXPECT_EQ(r.commits[1].body, "second\n");
  ASSERT_EQ(r.run.results.size(), 2u);
  EXPECT_EQ(r.run.results[0].recipients[0].outcome, Outcome::Accepted);
  EXPECT_EQ(r.run.results[0].recipients[1].outcome, Outcome::Failed);
  EXPECT_EQ(r.run.results[0].recipients[2].outcome, Outcome::Accepted);
  EXPECT_EQ(r.run.results[1].recipients[0].outcome, Outcome::Accepted);
}

TEST(ClientInterop, AllRecipientsRefusedThenNextMessage) {
  ClientPlan plan = one_message(test_message({"unknown@example.org"}), {"never\n"});
  plan.messages.push_back(test_message({"bob@example.org"}));
  plan.contents.push_back({"ok\n"});
  for (const bool bdat : {true, false}) {
    auto cfg = test_client_config();
    cfg.use_bdat = bdat;
    const auto r = run_all(cfg, {}, plan);
    EXPECT_FALSE(r.run.failure) << r.run.summary();
    ASSERT_EQ(r.commits.size(), 1u);
    EXPECT_EQ(r.commits[0].body, "ok\n");
    EXPECT_EQ(r.run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
    EXPECT_EQ(r.run.results.at(1).recipients.at(0).outcome, Outcome::Accepted);
  }
}

}  // namespace
}  // namespace taube::smtp::testing
