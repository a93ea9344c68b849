// ClientSession: local checks (SIZE, SMTPUTF8, unsendable addresses), parameters passed on or
// not (BODY, SIZE, DSN), refusals at every stage, 421, lost connections and broken replies.
#include <gtest/gtest.h>

#include "client_test_support.hpp"

namespace taube::smtp::testing {
namespace {

using client::Outcome;

const std::vector<std::string> kAccepting = {kGreeting, ehlo_reply({"PIPELINING"}),
                                             "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                             "221 bye\r\n"};

TEST(ClientLocalChecks, SizeOverThePeersLimit) {
  auto m = test_message({"bob@b.example", "carol@c.example"});
  m.params.size = 1001;
  const auto run =
      run_split(test_client_config(), {kGreeting, ehlo_reply({"SIZE 1000"}), "221 bye\r\n"},
                one_message(m, {"x\n"}));
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");  // no command for it
  ASSERT_EQ(run.results.size(), 1u);
  for (const auto& r : run.results[0].recipients) {
    EXPECT_EQ(r.outcome, Outcome::Failed);
    EXPECT_EQ(r.status, "5.3.4");
    EXPECT_EQ(r.reply, "552 5.3.4 message size 1001 exceeds the peer's limit of 1000");
    EXPECT_TRUE(r.local);
  }
  EXPECT_FALSE(run.failure);
}

TEST(ClientLocalChecks, SizeWithinTheLimitAndSizeZero) {
  auto m = test_message({"bob@b.example"});
  m.params.size = 1000;
  auto run = run_split(test_client_config(),
                       {kGreeting, ehlo_reply({"SIZE 1000", "PIPELINING"}),
                        "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                       one_message(m, {"x\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<alice@a.example> SIZE=1000\r\n"), std::string::npos);
  m.params.size = 1u << 30;  // SIZE 0: no fixed limit
  run = run_split(test_client_config(),
                  {kGreeting, ehlo_reply({"SIZE 0", "PIPELINING"}),
                   "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                  one_message(m, {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
}

TEST(ClientLocalChecks, Smtputf8NeededButNotOffered) {
  auto m = test_message({"bob@b.example"});
  m.params.smtputf8 = true;
  m.sender.mailbox.local_part = "δοκιμή";
  auto run = run_split(test_client_config(), {kGreeting, ehlo_reply({"8BITMIME"}), "221 b\r\n"},
                       one_message(m, {"x\n"}));
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
  EXPECT_EQ(run.results.at(0).recipients.at(0).status, "5.6.7");

  // Offered: SMTPUTF8 on MAIL and UTF-8 addresses go as they are.
  run = run_split(test_client_config(),
                  {kGreeting, ehlo_reply({"SMTPUTF8", "PIPELINING"}),
                   "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                  one_message(m, {"x\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<δοκιμή@a.example> SMTPUTF8\r\n"), std::string::npos);

  // A non-ASCII address without the SMTPUTF8 flag cannot be written at all.
  m.params.smtputf8 = false;
  run = run_split(test_client_config(), {kGreeting, ehlo_reply({"SMTPUTF8"}), "221 b\r\n"},
                  one_message(m, {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).status, "5.6.7");
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
}

TEST(ClientLocalChecks, UnsendableRecipientIsFailedOthersGo) {
  auto m = test_message({"bob@b.example", "carol@c.example"});
  m.recipients[0].mailbox.local_part = "bad\r\nRSET";
  const auto run = run_split(test_client_config(),
                             {kGreeting, ehlo_reply({"PIPELINING"}),
                              "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                             one_message(m, {"x\n"}));
  EXPECT_EQ(run.written.find("RSET"), std::string::npos);
  const auto& r = run.results.at(0).recipients;
  EXPECT_EQ(r[0].outcome, Outcome::Failed);
  EXPECT_EQ(r[0].status, "5.1.3");
  EXPECT_TRUE(r[0].local);
  EXPECT_EQ(r[1].outcome, Outcome::Accepted);
}

TEST(ClientParams, EightBitMimeOnlyWhenOffered) {
  auto m = test_message({"bob@b.example"});
  m.params.body = BodyType::EightBitMime;
  auto run = run_split(test_client_config(),
                       {kGreeting, ehlo_reply({"8BITMIME", "PIPELINING"}),
                        "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                       one_message(m, {"caf\xc3\xa9\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<alice@a.example> BODY=8BITMIME\r\n"), std::string::npos);
  run = run_split(test_client_config(), kAccepting, one_message(m, {"caf\xc3\xa9\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<alice@a.example>\r\n"), std::string::npos);
  EXPECT_NE(run.written.find("caf\xc3\xa9\r\n.\r\n"), std::string::npos);  // as is
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
}

client::OutboundMessage dsn_message() {
  auto m = test_message({"bob@b.example"});
  m.params.ret = DsnRet::Headers;
  m.params.envid = "QQ314159";
  m.recipients[0].params.notify = NotifySuccess | NotifyFailure;
  m.recipients[0].params.orcpt_type = "rfc822";
  m.recipients[0].params.orcpt_address = "bob@b.example";
  return m;
}

TEST(ClientParams, DsnPassedOnWhenOffered) {
  const auto run = run_split(test_client_config(),
                             {kGreeting, ehlo_reply({"DSN", "PIPELINING"}),
                              "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                             one_message(dsn_message(), {"x\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<alice@a.example> RET=HDRS ENVID=QQ314159\r\n"),
            std::string::npos);
  EXPECT_NE(run.written.find(
                "RCPT TO:<bob@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@b.example\r\n"),
            std::string::npos);
  EXPECT_TRUE(run.results.at(0).dsn_passed_on);
}

TEST(ClientParams, DsnNotPassedOnWithoutIt) {
  const auto run = run_split(test_client_config(), kAccepting, one_message(dsn_message(), {"x\n"}));
  EXPECT_NE(run.written.find("MAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\n"),
            std::string::npos);
  EXPECT_FALSE(run.results.at(0).dsn_passed_on);
}

TEST(ClientRefusals, PartialRecipients) {
  const auto run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({"PIPELINING"}),
       "250 ok\r\n550 5.1.1 <bob@b.example>: unknown\r\n250 ok\r\n452 4.2.2 full\r\n354 go\r\n",
       "250 2.0.0 queued\r\n", "221 bye\r\n"},
      one_message(test_message({"bob@b.example", "carol@c.example", "dave@d.example"}), {"x\n"}));
  const auto& r = run.results.at(0).recipients;
  EXPECT_EQ(r[0].outcome, Outcome::Failed);
  EXPECT_EQ(r[0].reply, "550 5.1.1 <bob@b.example>: unknown");
  EXPECT_EQ(r[0].status, "5.1.1");
  EXPECT_EQ(r[1].outcome, Outcome::Accepted);
  EXPECT_EQ(r[2].outcome, Outcome::Deferred);
  EXPECT_EQ(r[2].status, "4.2.2");
  EXPECT_EQ(run.written.find("RSET"), std::string::npos);
}

TEST(ClientRefusals, AllRecipientsRefusedPipelined) {
  // DATA answered 554 (no valid recipients): no content, RSET, and the next message goes.
  ClientPlan plan = one_message(test_message({"bob@b.example"}), {"never sent\n"});
  plan.messages.push_back(test_message({"carol@c.example"}));
  plan.contents.push_back({"second\n"});
  const auto run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({"PIPELINING"}),
       "250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n", "250 2.0.0 reset\r\n",
       "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
      plan);
  EXPECT_EQ(run.written.find("never sent"), std::string::npos);
  EXPECT_NE(run.written.find("DATA\r\nRSET\r\nMAIL FROM:"), std::string::npos);
  EXPECT_EQ(run.results.at(0).recipients.at(0).reply, "550 5.1.1 no");
  EXPECT_EQ(run.results.at(1).recipients.at(0).outcome, Outcome::Accepted);
}

TEST(ClientRefusals, AllRefusedButDataAnswered354) {
  // RFC 2920 §3.1: a server that answers 354 anyway gets "." at once, then RSET.
  const auto run =
      run_split(test_client_config(),
                {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n550 5.1.1 no\r\n354 go\r\n",
                 "554 5.5.1 empty\r\n", "250 ok\r\n", "221 bye\r\n"},
                one_message(test_message({"bob@b.example"}), {"never sent\n"}));
  EXPECT_NE(run.written.find("DATA\r\n.\r\nRSET\r\nQUIT\r\n"), std::string::npos);
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
  EXPECT_FALSE(run.failure);
}

TEST(ClientRefusals, MailRefused) {
  // Pipelined: the RCPTs' 503s are not the reason, MAIL's reply is.
  auto run = run_split(test_client_config(),
                       {kGreeting, ehlo_reply({"PIPELINING"}),
                        "451 4.3.0 try later\r\n503 5.5.1 no mail\r\n503 5.5.1 no mail\r\n"
                        "503 5.5.1 no mail\r\n",
                        "250 ok\r\n", "221 bye\r\n"},
                       one_message(test_message({"bob@b.example", "carol@c.example"}), {"x\n"}));
  for (const auto& r : run.results.at(0).recipients) {
    EXPECT_EQ(r.outcome, Outcome::Deferred);
    EXPECT_EQ(r.reply, "451 4.3.0 try later");
  }
  EXPECT_NE(run.written.find("DATA\r\nRSET\r\nQUIT\r\n"), std::string::npos);

  run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({}), "550 5.7.1 sender refused\r\n", "250 ok\r\n", "221 bye\r\n"},
      one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.written, "EHLO client.example\r\nMAIL FROM:<alice@a.example>\r\nRSET\r\nQUIT\r\n");
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
}

TEST(ClientRefusals, DataRefusedAndEndOfDataRefused) {
  auto run = run_split(test_client_config(),
                       {kGreeting, ehlo_reply({}), "250 ok\r\n", "250 ok\r\n",
                        "451 4.3.0 no data now\r\n", "250 ok\r\n", "221 bye\r\n"},
                       one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Deferred);
  EXPECT_NE(run.written.find("DATA\r\nRSET\r\n"), std::string::npos);

  run = run_split(test_client_config(),
                  {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n354 go\r\n",
                   "554 5.7.1 spam\r\n", "221 bye\r\n"},
                  one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
  EXPECT_EQ(run.results.at(0).recipients.at(0).reply, "554 5.7.1 spam");
  EXPECT_EQ(run.written.find("RSET"), std::string::npos);
}

TEST(ClientRefusals, StatusClassMismatch) {
  const auto run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({}), "250 ok\r\n", "550 4.1.1 odd\r\n", "250 ok\r\n", "221 bye\r\n"},
      one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).status, "5.0.0");
  EXPECT_EQ(run.results.at(0).recipients.at(0).reply, "550 4.1.1 odd");
}

TEST(ClientBroken, Closing421MidTransaction) {
  const auto run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n421 4.3.2 shutting down\r\n"},
      one_message(test_message({"bob@b.example", "carol@c.example"}), {"x\n"}));
  const auto& r = run.results.at(0).recipients;
  EXPECT_EQ(r[0].outcome, Outcome::Deferred);  // accepted, but never got its data
  EXPECT_EQ(r[1].outcome, Outcome::Deferred);
  EXPECT_EQ(r[1].reply, "421 4.3.2 shutting down");
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->stage, "rcpt");
  EXPECT_FALSE(run.failure->before_any_transaction);
  EXPECT_EQ(run.written.find("QUIT"), std::string::npos);
}

TEST(ClientBroken, Closing421AtEndOfDataAndWhileIdle) {
  auto run = run_split(test_client_config(),
                       {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n354 go\r\n",
                        "421 4.4.2 timeout\r\n"},
                       one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->stage, "end-of-data");

  ClientPlan idle;  // waits after EHLO: the driver reads, the server says 421
  run = run_split(test_client_config(), {kGreeting, ehlo_reply({}) + "421 4.4.2 idle\r\n"}, idle);
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->stage, "idle");
}

TEST(ClientBroken, ClosedBeforeAndAfterEndOfData) {
  // Before: the RCPT replies never came.
  auto run = run_split(test_client_config(), {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n"},
                       one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Deferred);
  EXPECT_EQ(run.results.at(0).recipients.at(0).status, "4.4.2");
  EXPECT_TRUE(run.results.at(0).recipients.at(0).local);
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->stage, "rcpt");

  // While writing the content: Deferred.
  ClientPlan plan = one_message(test_message({"bob@b.example"}), {"x\n"});
  plan.close_in_content = true;
  run = run_split(test_client_config(),
                  {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n354 go\r\n"}, plan);
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->stage, "content");

  // After the final dot: nobody knows.
  run = run_split(
      test_client_config(),
      {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n354 go\r\n", "250 partial"},
      one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Unknown);
  EXPECT_EQ(run.failure->stage, "end-of-data");
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
}

TEST(ClientBroken, ClosedDuringQuitIsClean) {
  const auto run = run_split(test_client_config(), {kGreeting, ehlo_reply({})}, {});
  EXPECT_FALSE(run.failure);
  EXPECT_TRUE(run.done);
}

TEST(ClientBroken, GarbageAfterQuitIsClean) {
  const auto run = run_split(test_client_config(), {kGreeting, ehlo_reply({}), "999 what\r\n"}, {});
  EXPECT_FALSE(run.failure);
  EXPECT_TRUE(run.done);
}

TEST(ClientBroken, ParseErrorIsALostConnection) {
  using namespace std::string_literals;
  for (const std::string bad :
       {"250 ok\r\n25\x00 x\r\n"s, "250 ok\r\n999 x\r\n"s, "250 ok\r\n250-a\r\n550 b\r\n"s}) {
    const auto run = run_split(test_client_config(), {kGreeting, ehlo_reply({"PIPELINING"}), bad},
                               one_message(test_message({"bob@b.example"}), {"x\n"}));
    EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Deferred) << visible(bad);
    ASSERT_TRUE(run.failure);
    EXPECT_EQ(run.failure->status, "4.5.0");
    EXPECT_EQ(run.written.find("QUIT"), std::string::npos);
  }
}

TEST(ClientBroken, UnexpectedRepliesBreakTheSession) {
  // 354 to MAIL, 250 to DATA, a reply nobody asked for.
  for (const std::vector<std::string>& turns : std::vector<std::vector<std::string>>{
           {kGreeting, ehlo_reply({}), "354 what\r\n"},
           {kGreeting, ehlo_reply({}), "250 ok\r\n", "250 ok\r\n", "250 data?\r\n"},
           {kGreeting, ehlo_reply({}) + "250 extra\r\n"}}) {
    const auto run = run_split(test_client_config(), turns,
                               one_message(test_message({"bob@b.example"}), {"x\n"}));
    ASSERT_TRUE(run.failure);
    EXPECT_EQ(run.failure->status, "4.5.0");
  }
}

TEST(ClientSessionApi, TimeoutsFollowTheWait) {
  client::ClientConfig cfg = test_client_config();
  client::ClientSession s(cfg);
  EXPECT_EQ(s.timeout(), cfg.timeouts.greeting);
  s.received(kGreeting);
  EXPECT_EQ(s.timeout(), cfg.timeouts.helo);
  s.received(ehlo_reply({}));
  EXPECT_EQ(s.step(), client::Step::Ready);
  EXPECT_EQ(s.timeout(), std::chrono::seconds{0});
  s.send(test_message({"bob@b.example"}));
  EXPECT_EQ(s.timeout(), cfg.timeouts.mail);
  s.received("250 ok\r\n");
  EXPECT_EQ(s.timeout(), cfg.timeouts.rcpt);
  s.received("250 ok\r\n");
  EXPECT_EQ(s.timeout(), cfg.timeouts.data);
  s.received("354 go\r\n");
  EXPECT_EQ(s.step(), client::Step::Content);
  EXPECT_EQ(s.timeout(), cfg.timeouts.block);
  s.content_end();
  EXPECT_EQ(s.timeout(), cfg.timeouts.final_dot);
  s.received("250 ok\r\n");
  EXPECT_TRUE(s.take_result());
  client::ClientSession moved = std::move(s);  // the I/O layer may keep it in an optional
  s = std::move(moved);
  s.quit();
  EXPECT_EQ(s.timeout(), cfg.timeouts.quit);
  s.send(test_message({"x@y.example"}));  // ignored outside Ready
  s.received("221 bye\r\n");
  EXPECT_EQ(s.step(), client::Step::Done);
  EXPECT_FALSE(s.failure());
  EXPECT_EQ(s.take_output(),
            "EHLO client.example\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\n"
            "DATA\r\n.\r\nQUIT\r\n");
}

}  // namespace
}  // namespace taube::smtp::testing
