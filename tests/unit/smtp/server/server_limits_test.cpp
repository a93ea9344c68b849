// The session's limits at N and N+1 (practice 11).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "session_split.hpp"
#include "session_test_util.hpp"
#include "smtp/server/server_session.hpp"
#include "smtp/wire/base64.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_session_split_invariant;

// ---- limits at N and N+1 (practice 11) ----

// RFC 5321 §4.5.3.1.4: 512 octets including <CRLF>.
TEST(SessionLimits, CommandLine512AndSplitOverManyReads) {
  const std::string n = "NOOP " + std::string(512 - 7, 'x') + "\r\n";
  ASSERT_EQ(n.size(), 512u);
  const std::string n1 = "NOOP " + std::string(512 - 6, 'x') + "\r\n";
  const std::string in = n + n1 + "NOOP\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250 2.0.0,500 5.5.6,250 2.0.0");
}

TEST(SessionLimits, CommandLineLimitIsConfigurable) {
  SessionConfig cfg = test_config();
  cfg.limits.max_command_line = 20;
  const std::string n = "NOOP " + std::string(13, 'x') + "\r\n";  // 20
  const std::string n1 = "NOOP " + std::string(14, 'x') + "\r\n";
  const std::string far = "NOOP " + std::string(100, 'x') + "\r\n";
  const std::string in = n + n1 + far + "NOOP\r\n";
  expect_session_split_invariant(in, cfg);
  EXPECT_EQ(run_codes(in, cfg), "250 2.0.0,500 5.5.6,500 5.5.6,250 2.0.0");
}

// An over-long line is skipped whole: nothing in it is executed.
TEST(SessionLimits, OverlongLineIsNotExecuted) {
  const std::string in =
      kEhlo + "MAIL FROM:<a@example.org> " + std::string(600, 'x') + "\r\n" + kMail + "QUIT\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250,500 5.5.6,250 2.1.0,221 2.0.0");
}

TEST(SessionLimits, MaxRecipients) {
  SessionConfig cfg = test_config();
  cfg.limits.max_recipients = 3;
  const std::string in = kEhlo + kMail + "RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n" +
                         "RCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nDATA\r\nx\r\n.\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.1.5,250 2.1.5,452 4.5.3,354,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].envelope.recipients.size(), 3u);
}

TEST(SessionLimits, MaxErrorsClosesWith421) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 3;
  // N-1 errors: still open.
  SessionDriver ok(cfg);
  ok.start();
  EXPECT_EQ(codes(replies_to(ok, "FOO\r\nBAR\r\nNOOP\r\n")), "500 5.5.1,500 5.5.1,250 2.0.0");
  EXPECT_FALSE(ok.session().closed());
  // N errors: 421 and closed; nothing after it is executed.
  const std::string in = "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "500 5.5.1,500 5.5.1,500 5.5.1,421 4.7.0");
  EXPECT_EQ(rs.back().last_line(), "421 4.7.0 mx.test Error: too many errors");
  EXPECT_TRUE(d.session().closed());
  // Each refusal is reported (logs, metrics), then the close.
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::Reject, EventKind::Reject,
                                                     EventKind::Reject, EventKind::Close}));
  EXPECT_EQ(d.session().errors(), 3u);
}

// The error that reaches max_errors may be the rejection of a message (bare LF, size, long line).
// abort_message() calls reply() -- which closes the session -- and then sets state_ =
// idle_state(), reopening it: the 421 is followed by replies to further commands.
TEST(SessionLimits, MaxErrorsReachedByRejectedMessageStaysClosed) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 2;
  const std::string in = kEhlo + "FOO\r\n" + kMail + kRcpt + "DATA\r\nbare\nlf\r\n.\r\nNOOP\r\n";
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "250,500 5.5.1,250 2.1.0,250 2.1.5,354,550 5.5.2,421 4.7.0");
  EXPECT_TRUE(d.session().closed());
}

TEST(SessionLimits, MaxErrorsReachedByOversizedBdatStaysClosed) {
  SessionConfig cfg = test_config();
  cfg.limits.max_errors = 2;
  cfg.limits.max_message_size = 5;
  const std::string in = kEhlo + "FOO\r\n" + kMail + kRcpt + "BDAT 10 LAST\r\n0123456789NOOP\r\n";
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,500 5.5.1,250 2.1.0,250 2.1.5,552 5.3.4,421 4.7.0");
  EXPECT_TRUE(d.session().closed());
}

// RFC 1870 §6.1: a declared SIZE over the limit is refused at MAIL.
TEST(SessionLimits, SizeParameterAtMail) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 1000;
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=1000\r\n", cfg), "250,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=1001\r\n", cfg), "250,552 5.3.4");
  cfg.limits.max_message_size = 0;  // unlimited
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=99999999999\r\n", cfg),
            "250,250 2.1.0");
  EXPECT_EQ(run_codes(kEhlo + "MAIL FROM:<a@example.org> SIZE=52428801\r\n"), "250,552 5.3.4");
}

// RFC 1870 §6.3: the message itself over the limit is refused at the end of data, with a
// MessageAbort event, and the session goes on.
TEST(SessionLimits, MessageOverLimitAtEndOfData) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 100;
  const std::string in = kEhlo + kMail + kRcpt + "DATA\r\n" + std::string(150, 'x') + "\r\n" +
                         std::string(150, 'y') + "\r\n.\r\n" + kMail + kRcpt +
                         "DATA\r\nsmall\r\n.\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,354,552 5.3.4,250 2.1.0,250 2.1.5,354,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "small\n");
  const auto& ev = d.events();
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, EventKind::MessageBegin);
  EXPECT_EQ(ev[1].kind, EventKind::MessageAbort);
  EXPECT_EQ(ev[1].reply.code, 552);
  EXPECT_EQ(ev[1].reply.enhanced, "5.3.4");
}

// N and N+1 for the message size through DATA: "123456789\r\n" is 11 octets (RFC 1870 §3 counts
// CRLF as two). With a limit of 10 it must be refused; the dot decoder never checks the final
// <CR> it counts (see dot_decoder_test OneOctetOverLimitEndingInCrlfIsTooBig). BDAT gets it right.
TEST(SessionLimits, MessageSizeNAndNPlusOne) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  const std::string pre = kEhlo + kMail + kRcpt;
  EXPECT_EQ(run_codes(pre + "DATA\r\n12345678\r\n.\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  EXPECT_EQ(run_codes(pre + "BDAT 10 LAST\r\n12345678\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
  EXPECT_EQ(run_codes(pre + "BDAT 11 LAST\r\n123456789\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,552 5.3.4");
  EXPECT_EQ(run_codes(pre + "DATA\r\n123456789\r\n.\r\n", cfg),
            "250,250 2.1.0,250 2.1.5,354,552 5.3.4");
}

TEST(SessionLimits, LongTextLines) {
  const std::string pre = kEhlo + kMail + kRcpt + "DATA\r\n";
  const std::string l1000 = std::string(998, 'a') + "\r\n";
  const std::string l1001 = std::string(999, 'a') + "\r\n";
  EXPECT_EQ(run_codes(pre + l1001 + ".\r\n"), "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  SessionConfig cfg = test_config();
  cfg.reject_long_lines = true;
  EXPECT_EQ(run_codes(pre + l1000 + ".\r\n", cfg), "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  SessionDriver d(cfg);
  d.start();
  const auto rs = replies_to(d, pre + l1001 + ".\r\nNOOP\r\n");
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,354,500 5.5.6,250 2.0.0");
  EXPECT_EQ(rs.at(4).last_line(), "500 5.5.6 Error: text line longer than 1000 octets");
  EXPECT_TRUE(d.commits().empty());
}

}  // namespace
}  // namespace taube::smtp

namespace taube::smtp {
namespace {

// RFC 5321 §6.3: loop detection by the number of Received: headers, at N and N+1.
std::string with_hops(int n) {
  std::string m = "DATA\r\n";
  for (int i = 0; i < n; ++i) m += "Received: from hop" + std::to_string(i) + "\r\n";
  return m + "Subject: loop\r\n\r\nReceived: in the body does not count\r\n.\r\n";
}

TEST(SessionLimits, ReceivedHeadersNAndNPlusOne) {
  SessionConfig cfg = test_config();
  cfg.limits.max_received_headers = 3;
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + with_hops(3), cfg), "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + with_hops(4), cfg), "250,250 2.1.0,250 2.1.5,354,554 5.4.6");
  cfg.limits.max_received_headers = 0;  // off
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + with_hops(200), cfg),
            "250,250 2.1.0,250 2.1.5,354,250 2.0.0");
  // The default is Postfix's 50; BDAT is counted the same way.
  const std::string body = "Received: a\r\nReceived: b\r\n\r\nx\r\n";
  cfg.limits.max_received_headers = 1;
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "BDAT " + std::to_string(body.size()) + " LAST\r\n" +
                          body,
                      cfg),
            "250,250 2.1.0,250 2.1.5,554 5.4.6");
  EXPECT_EQ(SessionConfig{}.limits.max_received_headers, 50u);
}

}  // namespace
}  // namespace taube::smtp
