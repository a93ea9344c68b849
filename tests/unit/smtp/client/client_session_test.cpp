// ClientSession: the transaction on the wire (pipelined and not), HELO fallback, content encoding
// (DATA with dot-stuffing, BDAT), LMTP, several messages, the transcript.
#include "smtp/client/client_session.hpp"

#include <gtest/gtest.h>

#include "client_test_support.hpp"

namespace taube::smtp::testing {
namespace {

using client::Outcome;
using client::Step;

TEST(ClientSession, HappyPathPipelined) {
  const std::vector<std::string> turns = {
      kGreeting, ehlo_reply({"PIPELINING", "SIZE 1000000", "8BITMIME"}),
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
      "250 2.0.0 Ok: queued as X1\r\n", "221 2.0.0 Bye\r\n"};
  auto m = test_message({"bob@b.example", "carol@c.example"});
  m.params.size = 12;
  const auto run = run_split(test_client_config(), turns, one_message(m, {"Subject: x\n\nhi\n"}));
  EXPECT_EQ(run.written,
            "EHLO client.example\r\n"
            "MAIL FROM:<alice@a.example> SIZE=12\r\n"
            "RCPT TO:<bob@b.example>\r\nRCPT TO:<carol@c.example>\r\nDATA\r\n"
            "Subject: x\r\n\r\nhi\r\n.\r\n"
            "QUIT\r\n");
  ASSERT_EQ(run.results.size(), 1u);
  ASSERT_EQ(run.results[0].recipients.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& r = run.results[0].recipients[i];
    EXPECT_EQ(r.index, i);
    EXPECT_EQ(r.outcome, Outcome::Accepted);
    EXPECT_EQ(r.reply, "250 2.0.0 Ok: queued as X1");
    EXPECT_EQ(r.status, "2.0.0");
    EXPECT_FALSE(r.local);
  }
  EXPECT_FALSE(run.results[0].dsn_passed_on);
  EXPECT_FALSE(run.failure);
  EXPECT_TRUE(run.done);
}

TEST(ClientSession, HappyPathOneCommandAtATime) {
  const std::vector<std::string> turns = {kGreeting,        ehlo_reply({"SIZE"}), "250 Ok\r\n",
                                          "250 Ok\r\n",     "251 Ok\r\n",         "354 go\r\n",
                                          "250 queued\r\n", "221 bye\r\n"};
  const auto run =
      run_split(test_client_config(), turns,
                one_message(test_message({"bob@b.example", "carol@c.example"}), {"hi\n"}));
  EXPECT_EQ(run.written,
            "EHLO client.example\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\n"
            "RCPT TO:<carol@c.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n");
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results[0].recipients[1].outcome, Outcome::Accepted);
  EXPECT_EQ(run.results[0].recipients[1].status, "2.0.0");  // no enhanced code: class.0.0
  EXPECT_FALSE(run.failure);
}

TEST(ClientSession, HeloFallbackAfter5xxToEhlo) {
  const std::vector<std::string> turns = {kGreeting,    "502 5.5.2 what?\r\n", "250 mx.example\r\n",
                                          "250 ok\r\n", "250 ok\r\n",          "354 go\r\n",
                                          "250 ok\r\n", "221 bye\r\n"};
  auto m = test_message({"bob@b.example"});
  m.params.size = 5;                       // no SIZE after HELO
  m.params.body = BodyType::EightBitMime;  // no BODY= either
  const auto run = run_split(test_client_config(), turns, one_message(m, {"x\n"}));
  EXPECT_EQ(run.written,
            "EHLO client.example\r\nHELO client.example\r\nMAIL FROM:<alice@a.example>\r\n"
            "RCPT TO:<bob@b.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
}

TEST(ClientSession, NoHeloFallbackFor4xxOrLmtp) {
  auto run = run_split(test_client_config(), {kGreeting, "451 4.3.0 later\r\n"}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.failure->stage, "ehlo");
  EXPECT_EQ(run.failure->status, "4.3.0");
  EXPECT_TRUE(run.failure->before_any_transaction);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");

  auto lmtp = test_client_config();
  lmtp.dialect = Dialect::Lmtp;
  run = run_split(lmtp, {kGreeting, "500 5.5.1 no\r\n"}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Failed);
  EXPECT_EQ(run.written, "LHLO client.example\r\nQUIT\r\n");
}

TEST(ClientSession, GreetingRefusals) {
  auto run = run_split(test_client_config(), {"554 5.7.1 go away\r\n"}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Failed);
  EXPECT_EQ(run.failure->stage, "greeting");
  EXPECT_EQ(run.failure->reply, "554 5.7.1 go away");
  EXPECT_EQ(run.written, "QUIT\r\n");  // RFC 5321 §3.1

  run = run_split(test_client_config(), {"421 4.3.2 busy\r\n"}, {});
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->outcome, Outcome::Deferred);
  EXPECT_EQ(run.written, "");  // the peer is closing: no QUIT

  run = run_split(test_client_config(),
                  {"220-mx.example\r\n220 hi\r\n", ehlo_reply({}), "221 bye\r\n"}, {});
  EXPECT_FALSE(run.failure);
  EXPECT_EQ(run.written, "EHLO client.example\r\nQUIT\r\n");
}

TEST(ClientSession, DotStuffingAndCrlfConversion) {
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"PIPELINING"}),
                                          "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                          "221 bye\r\n"};
  // Stored LF form in odd chunks: a "." line, a ".." line, a line starting with ".", a CRLF, no
  // final newline.
  const auto run =
      run_split(test_client_config(), turns,
                one_message(test_message({"bob@b.example"}), {"a\n", ".", "\n..\n.x\r", "\nlast"}));
  EXPECT_NE(run.written.find("DATA\r\na\r\n..\r\n...\r\n..x\r\nlast\r\n.\r\nQUIT\r\n"),
            std::string::npos)
      << visible(run.written);
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
}

TEST(ClientSession, ContentChunkingDoesNotChangeTheWire) {
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"PIPELINING"}),
                                          "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n",
                                          "221 bye\r\n"};
  const std::string body = "l1\n.\n..dots\n\nend\n";
  const auto whole = run_client(test_client_config(), ScriptedServer{turns},
                                one_message(test_message({"bob@b.example"}), {body}));
  for (std::size_t i = 1; i < body.size(); ++i) {
    const auto split = run_client(
        test_client_config(), ScriptedServer{turns},
        one_message(test_message({"bob@b.example"}), {body.substr(0, i), body.substr(i)}));
    EXPECT_EQ(split.written, whole.written) << i;
  }
}

TEST(ClientSession, BdatWhenChunkingAndPipelining) {
  auto cfg = test_client_config();
  cfg.bdat_chunk = 8;
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"PIPELINING", "CHUNKING"}),
                                          "250 ok\r\n250 ok\r\n",
                                          "250 2.0.0 chunk\r\n250 2.0.0 queued\r\n", "221 bye\r\n"};
  // 12 stored octets, 14 on the wire: one 8-octet chunk, then LAST with the other 6. No stuffing.
  const auto run = run_split(
      cfg, turns, one_message(test_message({"bob@b.example"}), {".a\n", "bcdef\n", "ghi"}));
  EXPECT_EQ(run.written,
            "EHLO client.example\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<bob@b.example>\r\n"
            "BDAT 8\r\n.a\r\nbcdeBDAT 6 LAST\r\nf\r\nghi"
            "QUIT\r\n")
      << visible(run.written);
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Accepted);
  EXPECT_EQ(run.results.at(0).recipients.at(0).reply, "250 2.0.0 queued");
}

TEST(ClientSession, BdatFailedChunkDecides) {
  auto cfg = test_client_config();
  cfg.bdat_chunk = 4;
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"PIPELINING", "CHUNKING"}),
                                          "250 ok\r\n250 ok\r\n",
                                          "552 5.3.4 too big\r\n503 5.5.1 no\r\n", "221 bye\r\n"};
  const auto run = run_split(cfg, turns, one_message(test_message({"bob@b.example"}), {"abcdefg"}));
  EXPECT_NE(run.written.find("BDAT 4\r\nabcdBDAT 3 LAST\r\nefg"), std::string::npos);
  EXPECT_EQ(run.results.at(0).recipients.at(0).outcome, Outcome::Failed);
  EXPECT_EQ(run.results.at(0).recipients.at(0).status, "5.3.4");
}

TEST(ClientSession, BdatEmptyMessageAndDisabled) {
  const std::vector<std::string> turns = {kGreeting, ehlo_reply({"PIPELINING", "CHUNKING"}),
                                          "250 ok\r\n250 ok\r\n", "250 ok\r\n", "221 bye\r\n"};
  auto run =
      run_split(test_client_config(), turns, one_message(test_message({"bob@b.example"}), {}));
  EXPECT_NE(run.written.find("RCPT TO:<bob@b.example>\r\nBDAT 0 LAST\r\nQUIT"), std::string::npos);

  auto cfg = test_client_config();
  cfg.use_bdat = false;
  run = run_split(cfg,
                  {kGreeting, ehlo_reply({"PIPELINING", "CHUNKING"}),
                   "250 ok\r\n250 ok\r\n354 go\r\n", "250 ok\r\n", "221 bye\r\n"},
                  one_message(test_message({"bob@b.example"}), {"x\n"}));
  EXPECT_NE(run.written.find("DATA\r\nx\r\n.\r\n"), std::string::npos);
}

TEST(ClientSession, LmtpOneReplyPerAcceptedRecipient) {
  auto cfg = test_client_config();
  cfg.dialect = Dialect::Lmtp;
  const std::vector<std::string> turns = {
      kGreeting, ehlo_reply({"PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES"}),
      "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n",
      "250 2.0.0 bob ok\r\n452 4.2.2 dave over quota\r\n", "221 bye\r\n"};
  const auto run = run_split(
      cfg, turns,
      one_message(test_message({"bob@b.example", "carol@b.example", "dave@b.example"}), {"x\n"}));
  EXPECT_NE(run.written.find("LHLO client.example\r\n"), std::string::npos);
  EXPECT_NE(run.written.find("DATA\r\nx\r\n.\r\n"), std::string::npos);  // never BDAT for LMTP
  const auto& r = run.results.at(0).recipients;
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].outcome, Outcome::Accepted);
  EXPECT_EQ(r[0].reply, "250 2.0.0 bob ok");
  EXPECT_EQ(r[1].outcome, Outcome::Failed);
  EXPECT_EQ(r[1].reply, "550 5.1.1 no such user");
  EXPECT_EQ(r[2].outcome, Outcome::Deferred);
  EXPECT_EQ(r[2].status, "4.2.2");
  EXPECT_FALSE(run.failure);
}

TEST(ClientSession, LmtpConnectionLostBetweenReplies) {
  auto cfg = test_client_config();
  cfg.dialect = Dialect::Lmtp;
  const auto run =
      run_split(cfg,
                {kGreeting, ehlo_reply({"PIPELINING"}), "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n",
                 "250 2.0.0 bob ok\r\n"},
                one_message(test_message({"bob@b.example", "carol@b.example"}), {"x\n"}));
  const auto& r = run.results.at(0).recipients;
  EXPECT_EQ(r[0].outcome, Outcome::Accepted);
  EXPECT_EQ(r[1].outcome, Outcome::Unknown);
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(run.failure->stage, "end-of-data");
  EXPECT_FALSE(run.failure->before_any_transaction);
}

TEST(ClientSession, TwoMessagesOnOneConnection) {
  const std::vector<std::string> turns = {
      kGreeting,       ehlo_reply({"PIPELINING"}),       "250 ok\r\n250 ok\r\n354 go\r\n",
      "250 first\r\n", "250 ok\r\n250 ok\r\n354 go\r\n", "250 second\r\n",
      "221 bye\r\n"};
  ClientPlan plan = one_message(test_message({"bob@b.example"}), {"1\n"});
  plan.messages.push_back(test_message({"carol@c.example"}));
  plan.contents.push_back({"2\n"});
  const auto run = run_split(test_client_config(), turns, plan);
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(run.results[0].recipients[0].reply, "250 first");
  EXPECT_EQ(run.results[1].recipients[0].reply, "250 second");
  EXPECT_NE(run.written.find("1\r\n.\r\nMAIL FROM:<alice@a.example>\r\nRCPT TO:<carol@c.example>"),
            std::string::npos);
}

TEST(ClientSession, TranscriptRedactsAuthAndContent) {
  auto cfg = test_client_config();
  cfg.plaintext_auth = true;
  cfg.credentials = sasl::ClientCredentials{"", "alice", "s3cret"};
  const std::vector<std::string> turns = {kGreeting,
                                          ehlo_reply({"AUTH LOGIN", "PIPELINING"}),
                                          "334 VXNlcm5hbWU6\r\n",
                                          "334 UGFzc3dvcmQ6\r\n",
                                          "235 2.7.0 ok\r\n",
                                          "250 ok\r\n250 ok\r\n354 go\r\n",
                                          "250 ok\r\n",
                                          "221 bye\r\n"};
  const auto run =
      run_split(cfg, turns, one_message(test_message({"bob@b.example"}), {"secret body\n"}));
  const std::vector<std::string> want = {"< 220 mx.example ESMTP test",
                                         "> EHLO client.example",
                                         "< 250-mx.example greets client.example",
                                         "< 250-AUTH LOGIN",
                                         "< 250 PIPELINING",
                                         "> AUTH LOGIN",
                                         "< 334 VXNlcm5hbWU6",
                                         "> ****",
                                         "< 334 UGFzc3dvcmQ6",
                                         "> ****",
                                         "< 235 2.7.0 ok",
                                         "> MAIL FROM:<alice@a.example>",
                                         "> RCPT TO:<bob@b.example>",
                                         "> DATA",
                                         "< 250 ok",
                                         "< 250 ok",
                                         "< 354 go",
                                         "> [content: 12 octets]",
                                         "< 250 ok",
                                         "> QUIT",
                                         "< 221 bye"};
  EXPECT_EQ(run.transcript, want);
  for (const auto& line : run.transcript) {
    EXPECT_EQ(line.find("secret"), std::string::npos) << line;
    EXPECT_EQ(line.find("YWxpY2U"), std::string::npos) << line;  // base64 "alice"
  }
}

TEST(ClientSession, TranscriptIsBoundedAndVisible) {
  std::string big = "250-mx.example\r\n";
  for (int i = 0; i < 120; ++i)
    big += "250-X" + std::to_string(i) + "\x1b[31m" + std::string(150, 'a') + "\r\n";
  big += "250 END\r\n";
  const auto run =
      run_client(test_client_config(), ScriptedServer{{kGreeting, big, "221 x\r\n"}}, {});
  EXPECT_FALSE(run.failure);
  ASSERT_LT(run.transcript.size(), client::ClientSession::kTranscriptLines);
  EXPECT_EQ(run.transcript.back(), "[... truncated]");
  std::size_t octets = 0;
  for (const auto& l : run.transcript) octets += l.size();
  EXPECT_LE(octets, client::ClientSession::kTranscriptOctets + 20);
  EXPECT_EQ(run.transcript[3], "< 250-X0?[31m" + std::string(150, 'a'));

  // Many short lines: bounded by the line count.
  ClientPlan plan;
  std::vector<std::string> turns = {kGreeting, ehlo_reply({})};
  for (int i = 0; i < 150; ++i) {
    plan.messages.push_back(test_message({"bob@b.example"}));
    turns.push_back("550 5.7.1 no\r\n");
    turns.push_back("250 ok\r\n");
  }
  const auto many = run_client(test_client_config(), ScriptedServer{turns}, plan);
  ASSERT_EQ(many.transcript.size(), client::ClientSession::kTranscriptLines);
  EXPECT_EQ(many.transcript.back(), "[... truncated]");
  EXPECT_EQ(many.results.size(), 150u);
}

}  // namespace
}  // namespace taube::smtp::testing
