// LMTP (RFC 2033) in src/smtp/server/server_transaction.cpp: the end of data is answered once
// per accepted recipient, in RCPT order (§4.2), whether the message is committed or refused as a
// whole (too big, bare newline, long line), after DATA and after BDAT LAST. A refused chunk
// that is not the last is answered once (RFC 3030 §2). Every script runs under every split.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session_driver.hpp"
#include "smtp/server/server_session.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::ReplySeen;
using testing::SessionDriver;
using testing::test_config;

ChannelPolicy lmtp() {
  ChannelPolicy p;
  p.dialect = Dialect::Lmtp;
  return p;
}

const std::string kTwoRcpts =
    "LHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<alice@example.org>\r\n"
    "RCPT TO:<unknown@example.org>\r\nRCPT TO:<bob@example.org>\r\n";

// The reply lines to `input` after the greeting, the same under every split of the input.
std::vector<std::string> lines_for(const std::string& input, SessionConfig cfg = test_config(),
                                   ChannelPolicy policy = lmtp()) {
  auto run = [&](const testing::Pieces& pieces) {
    SessionDriver d(cfg, testing::default_answers(), policy);
    d.start();
    d.take_output();
    d.feed_pieces(pieces);
    return d.take_output();
  };
  const std::string out = testing::expect_split_invariant(input, run);
  std::vector<std::string> lines;
  for (const ReplySeen& r : testing::parse_replies(out)) lines.push_back(r.last_line());
  return lines;
}

// The replies after the three RCPT replies (LHLO, MAIL, RCPT x3 = the first five).
std::vector<std::string> after_rcpts(const std::string& input, SessionConfig cfg = test_config()) {
  auto lines = lines_for(kTwoRcpts + input, cfg);
  EXPECT_GE(lines.size(), 5u);
  if (lines.size() >= 5) {
    EXPECT_TRUE(lines[3].starts_with("550 5.1.1")) << lines[3];
    lines.erase(lines.begin(), lines.begin() + 5);
  }
  return lines;
}

TEST(Lmtp, DataCommittedOneReplyPerAcceptedRecipient) {
  const auto l = after_rcpts("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l[0].starts_with("354"));
  EXPECT_EQ(l[1], "250 2.0.0 <alice@example.org> Ok: queued as TESTID");
  EXPECT_EQ(l[2], "250 2.0.0 <bob@example.org> Ok: queued as TESTID");
  EXPECT_TRUE(l[3].starts_with("250 2.0.0")) << l[3];  // NOOP: in step
}

TEST(Lmtp, DataRefusedForBareNewlineOneReplyPerRecipient) {
  const auto l = after_rcpts("DATA\r\nbare\nlf\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l[1].starts_with("550 5.5.2 <alice@example.org> ")) << l[1];
  EXPECT_TRUE(l[2].starts_with("550 5.5.2 <bob@example.org> ")) << l[2];
  EXPECT_TRUE(l[3].starts_with("250 2.0.0")) << l[3];
}

TEST(Lmtp, DataTooBigAtNPlusOneOneReplyPerRecipient) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  // N octets (10, CRLF counted) are accepted, N+1 refused.
  auto at_n = after_rcpts("DATA\r\n12345678\r\n.\r\n", cfg);
  ASSERT_EQ(at_n.size(), 3u);
  EXPECT_TRUE(at_n[1].starts_with("250 2.0.0 <alice@example.org>")) << at_n[1];
  EXPECT_TRUE(at_n[2].starts_with("250 2.0.0 <bob@example.org>")) << at_n[2];
  auto over = after_rcpts("DATA\r\n123456789\r\n.\r\nNOOP\r\n", cfg);
  ASSERT_EQ(over.size(), 4u);
  EXPECT_TRUE(over[1].starts_with("552 5.3.4 <alice@example.org> ")) << over[1];
  EXPECT_TRUE(over[2].starts_with("552 5.3.4 <bob@example.org> ")) << over[2];
  EXPECT_TRUE(over[3].starts_with("250 2.0.0")) << over[3];
}

TEST(Lmtp, LongLineRefusedOneReplyPerRecipient) {
  SessionConfig cfg = test_config();
  cfg.reject_long_lines = true;
  cfg.limits.max_text_line = 80;
  const auto l = after_rcpts("DATA\r\n" + std::string(81, 'x') + "\r\n.\r\n", cfg);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_TRUE(l[1].starts_with("5")) << l[1];
  EXPECT_NE(l[1].find(" <alice@example.org> "), std::string::npos) << l[1];
  EXPECT_NE(l[2].find(" <bob@example.org> "), std::string::npos) << l[2];
  EXPECT_EQ(l[1].substr(0, 9), l[2].substr(0, 9));
}

TEST(Lmtp, BdatLastTooBigOneReplyPerRecipient) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  const auto l = after_rcpts("BDAT 6\r\n123456BDAT 5 LAST\r\n12345NOOP\r\n", cfg);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l[0].starts_with("250 2.0.0")) << l[0];  // the first chunk
  EXPECT_TRUE(l[1].starts_with("552 5.3.4 <alice@example.org> ")) << l[1];
  EXPECT_TRUE(l[2].starts_with("552 5.3.4 <bob@example.org> ")) << l[2];
  EXPECT_TRUE(l[3].starts_with("250 2.0.0")) << l[3];
}

TEST(Lmtp, BdatChunkTooBigBeforeLastOneReply) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  // RFC 3030 §2: the failed chunk gets its reply and ends the transaction; the LAST chunk
  // that follows finds no transaction.
  const auto l = after_rcpts("BDAT 11\r\n12345678901BDAT 1 LAST\r\nxNOOP\r\n", cfg);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_TRUE(l[0].starts_with("552 5.3.4 Error")) << l[0];
  EXPECT_TRUE(l[1].starts_with("503 5.5.1")) << l[1];
  EXPECT_TRUE(l[2].starts_with("250 2.0.0")) << l[2];
}

TEST(Lmtp, RefusalCountsOnceTowardsMaxErrors) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 3;
  // The 550 at RCPT is error 1; the refused message (two replies) error 2: not yet closed.
  const auto l = after_rcpts("DATA\r\nbare\nlf\r\n.\r\nNOOP\r\n", cfg);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l[3].starts_with("250 2.0.0")) << l[3];
}

TEST(Smtp, RefusedMessageStillOneReply) {
  const std::string in =
      "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<alice@example.org>\r\n"
      "RCPT TO:<bob@example.org>\r\nDATA\r\nbare\nlf\r\n.\r\nNOOP\r\n";
  const auto l = lines_for(in, test_config(), ChannelPolicy{});
  ASSERT_EQ(l.size(), 7u);
  EXPECT_TRUE(l[5].starts_with("550 5.5.2 Error")) << l[5];
  EXPECT_TRUE(l[6].starts_with("250 2.0.0")) << l[6];
}

}  // namespace
}  // namespace taube::smtp
