// Tests for src/smtp/reply.cpp: the reply table (practice 4) and the wire formatting.
#include "smtp/wire/reply.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>

namespace taube::smtp {
namespace {

std::string entry_name(const ::testing::TestParamInfo<ReplyEntry>& info) {
  return "Entry" + std::to_string(info.index) + "_" + std::to_string(info.param.code);
}

void PrintTo(const ReplyEntry& e, std::ostream* os) {
  *os << e.code << " " << e.enhanced << " " << e.text;
}

class ReplyTableEntry : public ::testing::TestWithParam<ReplyEntry> {};

// RFC 3463 §3.1: the class digit of the enhanced code equals the class of the basic reply code.
TEST_P(ReplyTableEntry, EnhancedClassMatchesCodeClass) {
  const ReplyEntry& e = GetParam();
  if (e.enhanced.empty()) return;  // see OnlyGreetingHeloDataStartAndChallengeLackEnhancedCode
  ASSERT_GE(e.enhanced.size(), 5u);
  EXPECT_EQ(e.enhanced[0], static_cast<char>('0' + e.code / 100)) << e.enhanced << " vs " << e.code;
}

// RFC 3463 §2: status-code = class "." subject "." detail; class is 2, 4 or 5; subject and
// detail are 1-3 digits without leading zeros.
TEST_P(ReplyTableEntry, EnhancedCodeIsWellFormed) {
  const ReplyEntry& e = GetParam();
  if (e.enhanced.empty()) return;
  const std::string s(e.enhanced);
  const auto d1 = s.find('.');
  const auto d2 = s.find('.', d1 + 1);
  ASSERT_EQ(d1, 1u) << s;
  ASSERT_NE(d2, std::string::npos) << s;
  EXPECT_TRUE(s[0] == '2' || s[0] == '4' || s[0] == '5') << s;
  for (const std::string& part : {s.substr(2, d2 - 2), s.substr(d2 + 1)}) {
    ASSERT_FALSE(part.empty()) << s;
    ASSERT_LE(part.size(), 3u) << s;
    EXPECT_TRUE(part.size() == 1 || part[0] != '0') << s;
    for (char c : part) EXPECT_TRUE(c >= '0' && c <= '9') << s;
  }
}

// RFC 5321 §4.2: the first digit is 2..5, the second 0..5.
TEST_P(ReplyTableEntry, CodeIsAValidReplyCode) {
  const ReplyEntry& e = GetParam();
  EXPECT_GE(e.code / 100, 2);
  EXPECT_LE(e.code / 100, 5);
  EXPECT_LE(e.code / 10 % 10, 5);
}

// RFC 2034 §3: every reply carries an enhanced code except the greeting and the replies to
// HELO/EHLO; 354 and the SASL challenge 334 (RFC 4954 §4: base64 text only) are the others.
TEST_P(ReplyTableEntry, OnlyGreetingHeloDataStartAndChallengeLackEnhancedCode) {
  const ReplyEntry& e = GetParam();
  const bool exempt = e.id == ReplyId::Greeting || e.id == ReplyId::HeloOk ||
                      e.id == ReplyId::DataStart || e.id == ReplyId::AuthChallenge;
  EXPECT_EQ(e.enhanced.empty(), exempt);
}

TEST_P(ReplyTableEntry, HasRfcReferenceAndSingleLineText) {
  const ReplyEntry& e = GetParam();
  EXPECT_FALSE(e.rfc.empty());
  EXPECT_TRUE(e.rfc.starts_with("RFC ")) << e.rfc;
  EXPECT_FALSE(e.text.empty());
  EXPECT_EQ(e.text.find_first_of("\r\n"), std::string_view::npos);
  // At most one placeholder.
  const auto p = e.text.find("{}");
  if (p != std::string_view::npos) {
    EXPECT_EQ(e.text.find("{}", p + 2), std::string_view::npos);
  }
}

// RFC 5321 §4.2.3 / §3.8: 421 and the greeting start with the server's domain.
TEST_P(ReplyTableEntry, ConnectionLevelRepliesStartWithHostname) {
  const ReplyEntry& e = GetParam();
  if (e.code != 421 && e.id != ReplyId::Greeting) return;
  EXPECT_TRUE(e.text.starts_with("{} ")) << e.text;
}

TEST_P(ReplyTableEntry, MakeReplyReturnsThisEntry) {
  const ReplyEntry& e = GetParam();
  const Reply r = make_reply(e.id, "ARG");
  EXPECT_EQ(r.code, e.code);
  EXPECT_EQ(r.enhanced, e.enhanced);
  std::string expected(e.text);
  if (const auto p = expected.find("{}"); p != std::string::npos) expected.replace(p, 2, "ARG");
  EXPECT_EQ(r.text, expected);
}

INSTANTIATE_TEST_SUITE_P(All, ReplyTableEntry, ::testing::ValuesIn(reply_table()), entry_name);

TEST(ReplyTable, EntriesAreInEnumOrder) {
  const auto& t = reply_table();
  for (std::size_t i = 0; i < t.size(); ++i)
    EXPECT_EQ(static_cast<std::size_t>(t[i].id), i) << "entry " << i << " is out of order";
}

TEST(ReplyTable, EveryIdAppearsOnce) {
  const auto& t = reply_table();
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(static_cast<std::size_t>(t.back().id), t.size() - 1);
  std::set<ReplyId> ids;
  for (const auto& e : t) EXPECT_TRUE(ids.insert(e.id).second);
}

// Spot checks of codes the rest of the suite (and the issue) relies on.
TEST(ReplyTable, KeyCodes) {
  struct {
    ReplyId id;
    int code;
    const char* enhanced;
  } const cases[] = {
      {ReplyId::Greeting, 220, ""},
      {ReplyId::ShuttingDown, 421, "4.3.2"},
      {ReplyId::TooManyErrors, 421, "4.7.0"},
      {ReplyId::Timeout, 421, "4.4.2"},
      {ReplyId::MailOk, 250, "2.1.0"},
      {ReplyId::RcptOk, 250, "2.1.5"},
      {ReplyId::RcptForward, 251, "2.1.5"},
      {ReplyId::DataStart, 354, ""},
      {ReplyId::Queued, 250, "2.0.0"},
      {ReplyId::Bye, 221, "2.0.0"},
      {ReplyId::VrfyCannot, 252, "2.5.2"},
      {ReplyId::Help, 214, "2.0.0"},
      {ReplyId::NeedMail, 503, "5.5.1"},
      {ReplyId::Utf8NeedsSmtputf8, 553, "5.6.7"},
      {ReplyId::UnknownCommand, 500, "5.5.1"},
      {ReplyId::BadCommandLine, 500, "5.5.2"},
      {ReplyId::CommandTooLong, 500, "5.5.6"},
      {ReplyId::UnknownParam, 555, "5.5.4"},
      {ReplyId::TooManyRecipients, 452, "4.5.3"},
      {ReplyId::SizeTooBigAtMail, 552, "5.3.4"},
      {ReplyId::MessageTooBig, 552, "5.3.4"},
      {ReplyId::BareNewline, 550, "5.5.2"},
      {ReplyId::UserUnknown, 550, "5.1.1"},
      {ReplyId::RelayDenied, 554, "5.7.1"},
      {ReplyId::SrsInvalid, 550, "5.1.1"},
      {ReplyId::SrsExpired, 550, "5.1.1"},
      {ReplyId::NoValidRecipients, 554, "5.5.1"},
  };
  for (const auto& c : cases) {
    const Reply r = make_reply(c.id);
    EXPECT_EQ(r.code, c.code) << static_cast<int>(c.id);
    EXPECT_EQ(r.enhanced, c.enhanced) << static_cast<int>(c.id);
  }
}

TEST(ReplyFormat, SingleLineWithEnhancedCode) {
  EXPECT_EQ(format_reply(make_reply(ReplyId::MailOk)), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(format_reply(make_reply(ReplyId::Queued, "ABC123")),
            "250 2.0.0 Ok: queued as ABC123\r\n");
}

TEST(ReplyFormat, SingleLineWithoutEnhancedCode) {
  EXPECT_EQ(format_reply(make_reply(ReplyId::Greeting, "mx.test")), "220 mx.test ESMTP Taube\r\n");
  EXPECT_EQ(format_reply(make_reply(ReplyId::DataStart)),
            "354 End data with <CR><LF>.<CR><LF>\r\n");
}

// RFC 5321 §4.2.1: "250-" on every line but the last, "250 " on the last.
TEST(ReplyFormat, MultiLineWithoutEnhancedCode) {
  EXPECT_EQ(format_reply(Reply{250, "", "mx.test\nPIPELINING\nSIZE 10"}),
            "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
}

// RFC 2034 §3: the enhanced code is repeated on every line of a multi-line reply.
TEST(ReplyFormat, MultiLineRepeatsEnhancedCodeOnEveryLine) {
  EXPECT_EQ(format_reply(Reply{214, "2.0.0", "one\ntwo\nthree"}),
            "214-2.0.0 one\r\n214-2.0.0 two\r\n214 2.0.0 three\r\n");
}

TEST(ReplyFormat, AppendKeepsExistingOutput) {
  std::string out = "x";
  append_reply(out, make_reply(ReplyId::NoopOk));
  append_reply(out, make_reply(ReplyId::Bye));
  EXPECT_EQ(out, "x250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
}

TEST(ReplyFormat, EveryTableEntryFormatsAsOneCrlfTerminatedLine) {
  for (const auto& e : reply_table()) {
    const std::string wire = format_reply(make_reply(e.id, "x"));
    ASSERT_GE(wire.size(), 6u);
    EXPECT_EQ(wire.substr(0, 3), std::to_string(e.code));
    EXPECT_EQ(wire[3], ' ');
    EXPECT_TRUE(wire.ends_with("\r\n"));
    EXPECT_EQ(wire.find("\r\n"), wire.size() - 2) << wire;
    if (!e.enhanced.empty()) {
      EXPECT_EQ(wire.substr(4, e.enhanced.size()), e.enhanced);
    }
  }
}

TEST(ReplyClass, PositiveTransientPermanent) {
  EXPECT_TRUE(make_reply(ReplyId::RcptForward).positive());
  EXPECT_TRUE(make_reply(ReplyId::DataStart).positive());
  EXPECT_FALSE(make_reply(ReplyId::DataStart).transient());
  EXPECT_TRUE(make_reply(ReplyId::TooManyRecipients).transient());
  EXPECT_FALSE(make_reply(ReplyId::TooManyRecipients).positive());
  EXPECT_TRUE(make_reply(ReplyId::UserUnknown).permanent());
  EXPECT_FALSE(make_reply(ReplyId::UserUnknown).transient());
}

}  // namespace
}  // namespace taube::smtp
