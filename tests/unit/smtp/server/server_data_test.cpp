// Message content: DATA (dot decoding, bare newlines, smuggling), SMTPUTF8 and BDAT (RFC 3030).
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

// ---- DATA content ----

TEST(SessionData, BareLfIsRejectedAfterTheTerminator) {
  const std::string in = kEhlo + kMail + kRcpt + "DATA\r\nline one\nline two\r\n.\r\nNOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,250 2.1.0,250 2.1.5,354,550 5.5.2,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  const auto& ev = d.events();
  ASSERT_EQ(ev.size(), 4u);  // MessageBegin, BareNewline, MessageAbort, Reject
  EXPECT_EQ(ev[1].kind, EventKind::BareNewline);
  EXPECT_EQ(ev[3].kind, EventKind::Reject);
  EXPECT_EQ(ev[3].verb, Verb::Data);
  EXPECT_EQ(ev[3].from, "alice@example.org");
  EXPECT_EQ(ev[1].bare_lf, 1u);
  EXPECT_EQ(ev[2].kind, EventKind::MessageAbort);
  EXPECT_EQ(ev[2].reply.code, 550);
}

TEST(SessionData, BareNewlinePolicyOverride) {
  SessionDriver d;
  d.start();
  d.session().set_bare_newline_policy(BareNewlinePolicy::Note);
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\na\nb\rc\r\n.\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "a\nb\rc\n");
  ASSERT_GE(d.events().size(), 2u);
  EXPECT_EQ(d.events()[1].kind, EventKind::BareNewline);
  EXPECT_EQ(d.events()[1].bare_lf, 1u);
  EXPECT_EQ(d.events()[1].bare_cr, 1u);
  SessionConfig cfg = test_config();
  cfg.bare_newline = BareNewlinePolicy::Normalize;
  SessionDriver n(cfg);
  n.start();
  n.feed(kEhlo + kMail + kRcpt + "DATA\r\na\nb\rc\r\n.\r\n");
  ASSERT_EQ(n.commits().size(), 1u);
  EXPECT_EQ(n.commits()[0].body, "a\nb\nc\n");
}

// SMTP smuggling (CVE-2023-51764 class): commands hidden behind a non-CRLF "end of data" are
// message content; the client sees one reply for the whole message.
TEST(SessionData, SmuggledCommandsAreNeverExecuted) {
  for (const std::string sep : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r\r\n"}) {
    for (const auto policy :
         {BareNewlinePolicy::Reject, BareNewlinePolicy::Normalize, BareNewlinePolicy::Note}) {
      SessionConfig cfg = test_config();
      cfg.bare_newline = policy;
      const std::string in = kEhlo + kMail + kRcpt + "DATA\r\nSubject: hi\r\n\r\nbody" + sep +
                             "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\n"
                             "DATA\r\nsmuggled\r\n.\r\nQUIT\r\n";
      SessionDriver d(cfg);
      d.start();
      const std::string got = codes(replies_to(d, in));
      const std::string verdict = policy == BareNewlinePolicy::Reject ? "550 5.5.2" : "250 2.0.0";
      EXPECT_EQ(got, "250,250 2.1.0,250 2.1.5,354," + verdict + ",221 2.0.0")
          << visible(sep) << " policy " << static_cast<int>(policy);
      EXPECT_LE(d.commits().size(), 1u);
    }
  }
}

TEST(SessionData, EmptyMessage) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "DATA\r\n.\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "");
}

// ---- SMTPUTF8 (RFC 6531) ----

TEST(SessionUtf8, Rules) {
  const std::string u = "\xc3\xbc";
  struct {
    std::string in;
    const char* want;
  } const cases[] = {
      {"MAIL FROM:<" + u + "@example.org>\r\n", "250,553 5.6.7"},
      {"MAIL FROM:<" + u + "@example.org> SMTPUTF8\r\n", "250,250 2.1.0"},
      {"MAIL FROM:<a@b" + u + "cher.example> SMTPUTF8\r\n", "250,250 2.1.0"},
      {"MAIL FROM:<a@b" + u + "cher.example>\r\n", "250,553 5.6.7"},
      {kMail + "RCPT TO:<" + u + "@example.org>\r\n", "250,250 2.1.0,553 5.6.7"},
      {"MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<" + u + "@example.org>\r\n",
       "250,250 2.1.0,250 2.1.5"},
      {"MAIL FROM:<\xc3@example.org> SMTPUTF8\r\n", "250,501 5.1.7"},
      {"MAIL FROM:<a@example.org> SMTPUTF8=YES\r\n", "250,501 5.5.4"},
      {"MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<\xed\xa0\x80@example.org>\r\n",
       "250,250 2.1.0,501 5.1.3"},
  };
  for (const auto& c : cases) EXPECT_EQ(run_codes(kEhlo + c.in), c.want) << visible(c.in);
  // SMTPUTF8 is an extension: not after HELO.
  EXPECT_EQ(run_codes("HELO c\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\n"), "250,555 5.5.4");
}

// ---- BDAT (RFC 3030) ----

TEST(SessionBdat, ChunksAndLast) {
  const std::string in =
      kEhlo + kMail + kRcpt + "BDAT 7\r\nhello\r\nBDAT 9 LAST\r\nworld\r\n\r\n" + "NOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  const auto rs = replies_to(d, in);
  EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,250 2.0.0");
  EXPECT_EQ(rs.at(3).last_line(), "250 2.0.0 Ok: 7 octets received");
  EXPECT_EQ(rs.at(4).last_line(), "250 2.0.0 Ok: queued as TESTID");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "hello\nworld\n\n");
  EXPECT_TRUE(d.commits()[0].envelope.bdat);
}

TEST(SessionBdat, CrlfSplitAcrossChunks) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 3\r\nab\rBDAT 3 LAST\r\n\ncd");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "ab\ncd");
}

TEST(SessionBdat, TrailingCrIsKept) {
  SessionDriver d;
  d.start();
  d.feed(kEhlo + kMail + kRcpt + "BDAT 3\r\nab\rBDAT 0 LAST\r\n");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "ab\r");
}

TEST(SessionBdat, ZeroLastAlone) {
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, kEhlo + kMail + kRcpt + "BDAT 0 LAST\r\n")),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
  ASSERT_EQ(d.commits().size(), 1u);
  EXPECT_EQ(d.commits()[0].body, "");
}

TEST(SessionBdat, ChunkContentIsNeverACommand) {
  // The chunk holds command-looking text, including QUIT and a DATA terminator.
  const std::string chunk = "QUIT\r\n.\r\nRSET\r\n";
  const std::string in = kEhlo + kMail + kRcpt + "BDAT " + std::to_string(chunk.size()) +
                         " LAST\r\n" + chunk + "NOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)), "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0");
  EXPECT_EQ(d.commits().at(0).body, "QUIT\n.\nRSET\n");
}

TEST(SessionBdat, WithoutMailConsumesTheChunkThen503) {
  const std::string in = kEhlo + "BDAT 6\r\nQUIT\r\nNOOP\r\n";
  expect_session_split_invariant(in);
  EXPECT_EQ(run_codes(in), "250,503 5.5.1,250 2.0.0");
  EXPECT_EQ(run_codes("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"), "503 5.5.1,250 2.0.0");
  EXPECT_EQ(run_codes(kEhlo + kMail + "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"),
            "250,250 2.1.0,503 5.5.1,250 2.0.0");
  EXPECT_EQ(
      run_codes(kEhlo + kMail + "RCPT TO:<unknown@example.org>\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n"),
      "250,250 2.1.0,550 5.1.1,554 5.5.1,250 2.0.0");
}

TEST(SessionBdat, DataAfterBdatIs503) {
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "BDAT 2\r\nabDATA\r\nBDAT 1 LAST\r\nc"),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,503 5.5.1,250 2.0.0");
}

TEST(SessionBdat, BadSyntaxCloses) {
  for (const char* bad : {"BDAT", "BDAT x", "BDAT 5 FIRST", "BDAT -1", "BDAT +5", "BDAT 5 LAST x",
                          "BDAT 99999999999999999999999", "BDAT 0x10"}) {
    SessionDriver d;
    d.start();
    const auto rs = replies_to(d, kEhlo + kMail + kRcpt + bad + "\r\nNOOP\r\n");
    EXPECT_EQ(codes(rs), "250,250 2.1.0,250 2.1.5,501 5.5.4,421 4.5.0") << bad;
    EXPECT_TRUE(d.session().closed()) << bad;
  }
  EXPECT_EQ(run_codes(kEhlo + kMail + kRcpt + "bdat 1 last\r\nx"),
            "250,250 2.1.0,250 2.1.5,250 2.0.0");
}

TEST(SessionBdat, RsetBetweenChunksAbortsTheMessage) {
  const std::string in = kEhlo + kMail + kRcpt + "BDAT 3\r\nabcRSET\r\nBDAT 3 LAST\r\ndefNOOP\r\n";
  expect_session_split_invariant(in);
  SessionDriver d;
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,250 2.0.0,503 5.5.1,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  EXPECT_EQ(d.event_kinds(), (std::vector<EventKind>{EventKind::MessageBegin,
                                                     EventKind::MessageAbort, EventKind::Reject}));
}

TEST(SessionBdat, OverLimitFailsTheTransaction) {
  SessionConfig cfg = test_config();
  cfg.limits.max_message_size = 10;
  const std::string in = kEhlo + kMail + kRcpt + "BDAT 6\r\n123456BDAT 6 LAST\r\n789012NOOP\r\n" +
                         "BDAT 1 LAST\r\nxNOOP\r\n";
  expect_session_split_invariant(in, cfg);
  SessionDriver d(cfg);
  d.start();
  EXPECT_EQ(codes(replies_to(d, in)),
            "250,250 2.1.0,250 2.1.5,250 2.0.0,552 5.3.4,250 2.0.0,503 5.5.1,250 2.0.0");
  EXPECT_TRUE(d.commits().empty());
  ASSERT_GE(d.events().size(), 2u);
  EXPECT_EQ(d.events()[1].kind, EventKind::MessageAbort);
  EXPECT_EQ(d.events()[1].reply.code, 552);
}

}  // namespace
}  // namespace taube::smtp
