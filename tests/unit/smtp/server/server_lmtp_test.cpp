// The LMTP dialect (RFC 2033): LHLO instead of HELO/EHLO, and after the end of data one reply
// per accepted recipient, in RCPT order (§4.2), for DATA and for BDAT ... LAST.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "session_split.hpp"
#include "session_test_util.hpp"

namespace taube::smtp {
namespace {

ChannelPolicy lmtp() {
  ChannelPolicy p;
  p.dialect = Dialect::Lmtp;
  return p;
}

testing::SessionAnswers per_recipient(std::vector<CommitStatus> statuses) {
  testing::SessionAnswers a;
  a.commit = [statuses](const Envelope&, const std::string&) {
    return CommitResult{CommitStatus::Accepted, "L1", statuses};
  };
  return a;
}

TEST(SessionLmtp, LhloOnlyAndTheSameExtensions) {
  SessionDriver d(test_config(), {}, lmtp());
  d.start();
  const auto rs = replies_to(d, "HELO x\r\nEHLO x\r\nLHLO client.example\r\n");
  EXPECT_EQ(codes(rs), "500 5.5.1,500 5.5.1,250");
  const auto& lines = rs.back().lines;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-PIPELINING"), lines.end());  // §5: MUST
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-ENHANCEDSTATUSCODES"), lines.end());
  SessionDriver smtp;
  smtp.start();
  EXPECT_EQ(codes(replies_to(smtp, "LHLO x\r\n")), "500 5.5.1");  // and no LHLO in SMTP
}

TEST(SessionLmtp, OneReplyPerAcceptedRecipientInOrder) {
  SessionDriver d(test_config(), per_recipient({CommitStatus::Accepted, CommitStatus::StorageFull}),
                  lmtp());
  d.start();
  const auto rs = replies_to(d, "LHLO c\r\n" + kMail + "RCPT TO:<bob@example.org>\r\n" +
                                    "RCPT TO:<unknown@example.org>\r\n" +
                                    "RCPT TO:<carol@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(codes(rs),
            "250,250 2.1.0,250 2.1.5,550 5.1.1,250 2.1.5,354,250 2.0.0,452 4.3.1,221 2.0.0");
  EXPECT_EQ(rs[6].last_line(), "250 2.0.0 <bob@example.org> Ok: queued as L1");
  EXPECT_EQ(rs[7].last_line(), "452 4.3.1 <carol@example.org> Error: insufficient system storage");
  // A refused recipient at the end is reported like any refusal; DATA counts once.
  const auto& c = d.session().command_counts();
  EXPECT_EQ(c.sent[static_cast<std::size_t>(Verb::Data)], 1u);
}

TEST(SessionLmtp, BdatLastGetsTheSameReplies) {
  SessionDriver d(test_config(), {}, lmtp());
  d.start();
  const auto rs = replies_to(d, "LHLO c\r\n" + kMail + "RCPT TO:<bob@example.org>\r\n" +
                                    "RCPT TO:<carol@example.org>\r\nBDAT 2\r\nabBDAT 1 LAST\r\nc");
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,250 2.1.5,250 2.0.0,250 2.0.0,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "abc");
}

TEST(SessionLmtp, SplitInvariant) {
  const std::string in = "LHLO c\r\n" + kMail + kRcpt + "RCPT TO:<x@example.org>\r\nDATA\r\n" +
                         "a\r\n..b\r\n.\r\nRSET\r\nQUIT\r\n";
  const std::string summary = testing::expect_split_invariant(in, [&](const testing::Pieces& p) {
    SessionDriver d(test_config(), {}, lmtp());
    d.start();
    d.feed_pieces(p);
    return d.summary();
  });
  EXPECT_NE(summary.find("<bob@example.org> Ok: queued as TESTID"), std::string::npos) << summary;
  EXPECT_NE(summary.find("<x@example.org> Ok: queued as TESTID"), std::string::npos) << summary;
}

}  // namespace
}  // namespace taube::smtp
