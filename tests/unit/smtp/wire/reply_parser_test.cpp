// Tests for src/smtp/wire/reply_parser.cpp (RFC 5321 §4.2, RFC 2034 §3). Every input runs under
// split_feed: whole, byte by byte, split at every index and in random splits.
#include "smtp/wire/reply_parser.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_split_invariant;
using testing::Pieces;
using testing::visible;
using namespace std::string_view_literals;

struct ParseResult {
  std::vector<ParsedReply> replies;
  std::size_t consumed = 0;
  ReplyParseError error = ReplyParseError::None;
  bool partial = false;
  bool operator==(const ParseResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const ParseResult& r) {
  os << "consumed=" << r.consumed << " error=" << describe(r.error) << " partial=" << r.partial;
  for (const auto& p : r.replies) {
    os << "\n  " << p.reply.code << " [" << p.reply.enhanced << "] \"" << visible(p.reply.text)
       << "\" lines=" << p.lines.size();
    for (const auto& l : p.lines) os << " |" << visible(l);
  }
  return os;
}

ParseResult run(const Pieces& pieces, ReplyParserLimits limits = {}) {
  ReplyParser p(limits);
  ParseResult r;
  for (const auto piece : pieces) {
    const std::size_t n = p.feed(piece);
    EXPECT_LE(n, piece.size());
    if (n < piece.size()) EXPECT_TRUE(p.failed());
    r.consumed += n;
    // Take replies as they complete, as a client would.
    while (auto reply = p.next()) r.replies.push_back(std::move(*reply));
  }
  r.error = p.error();
  r.partial = p.partial();
  EXPECT_EQ(p.queued(), 0u);
  return r;
}

ParseResult parse(std::string_view wire, ReplyParserLimits limits = {}) {
  return expect_split_invariant(wire, [&](const Pieces& pieces) { return run(pieces, limits); });
}

// Parses input that must hold exactly one complete reply and nothing else.
ParsedReply one(std::string_view wire) {
  const ParseResult r = parse(wire);
  EXPECT_EQ(r.error, ReplyParseError::None) << visible(wire);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_FALSE(r.partial);
  if (r.replies.size() != 1) {
    ADD_FAILURE() << visible(wire) << " gave " << r.replies.size() << " replies";
    return {};
  }
  return r.replies[0];
}

TEST(ReplyParser, SingleLine) {
  const ParsedReply r = one("220 mx.example.org ESMTP ready\r\n");
  EXPECT_EQ(r.reply, (Reply{220, "", "mx.example.org ESMTP ready"}));
  EXPECT_EQ(r.lines, std::vector<std::string>{"220 mx.example.org ESMTP ready"});
}

TEST(ReplyParser, CodeAloneAndEmptyTextAreValid) {
  EXPECT_EQ(one("250\r\n").reply, (Reply{250, "", ""}));
  EXPECT_EQ(one("250 \r\n").reply, (Reply{250, "", ""}));
  // "250-" with no text continues the reply (textstring is optional in Reply-line).
  const ParsedReply r = one("250-\r\n250\r\n");
  EXPECT_EQ(r.reply, (Reply{250, "", "\n"}));
  EXPECT_EQ(r.lines, (std::vector<std::string>{"250-", "250"}));
}

TEST(ReplyParser, EnhancedCodeIsStrippedFromEveryLine) {
  const ParsedReply r =
      one("550-5.7.1 [192.0.2.1] The IP you're using to send mail is not\r\n"
          "550-5.7.1 authorized to send email directly to our servers.\r\n"
          "550 5.7.1 Please use the SMTP relay.\r\n");
  EXPECT_EQ(r.reply.code, 550);
  EXPECT_EQ(r.reply.enhanced, "5.7.1");
  EXPECT_EQ(r.reply.text,
            "[192.0.2.1] The IP you're using to send mail is not\n"
            "authorized to send email directly to our servers.\n"
            "Please use the SMTP relay.");
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[2], "550 5.7.1 Please use the SMTP relay.");
}

TEST(ReplyParser, EnhancedCodeOnlyOnFirstLineStaysOffTheOthers) {
  const ParsedReply r = one("250-2.0.0 first\r\n250 second\r\n");
  EXPECT_EQ(r.reply, (Reply{250, "2.0.0", "first\nsecond"}));
}

TEST(ReplyParser, EnhancedCodeDecidedByTheFirstLine) {
  // The first line has none: a code-like prefix on a later line is text.
  EXPECT_EQ(one("250-mx.example.org\r\n250 2.0.0 x\r\n").reply,
            (Reply{250, "", "mx.example.org\n2.0.0 x"}));
  // A different code on a later line is text as well.
  EXPECT_EQ(one("451-4.3.0 a\r\n451 4.4.1 b\r\n").reply, (Reply{451, "4.3.0", "a\n4.4.1 b"}));
}

TEST(ReplyParser, EnhancedCodeShapes) {
  EXPECT_EQ(one("550 5.1.1\r\n").reply, (Reply{550, "5.1.1", ""}));
  EXPECT_EQ(one("550 5.1.1 \r\n").reply, (Reply{550, "5.1.1", ""}));
  EXPECT_EQ(one("550 5.1.1  two spaces\r\n").reply, (Reply{550, "5.1.1", " two spaces"}));
  EXPECT_EQ(one("538 5.7.11 Encryption required\r\n").reply,
            (Reply{538, "5.7.11", "Encryption required"}));
  EXPECT_EQ(one("250 2.123.456 x\r\n").reply, (Reply{250, "2.123.456", "x"}));
  // Not enhanced codes: class mismatch (RFC 3463 §3.1), four digits, missing part, no SP after.
  EXPECT_EQ(one("250 5.0.0 x\r\n").reply, (Reply{250, "", "5.0.0 x"}));
  EXPECT_EQ(one("250 2.1234.5 x\r\n").reply, (Reply{250, "", "2.1234.5 x"}));
  EXPECT_EQ(one("250 2.0 x\r\n").reply, (Reply{250, "", "2.0 x"}));
  EXPECT_EQ(one("250 2..0 x\r\n").reply, (Reply{250, "", "2..0 x"}));
  EXPECT_EQ(one("250 2.0.0x\r\n").reply, (Reply{250, "", "2.0.0x"}));
  EXPECT_EQ(one("250 2.0.0.0 x\r\n").reply, (Reply{250, "", "2.0.0.0 x"}));
}

TEST(ReplyParser, EnhancedCodeLength) {
  EXPECT_EQ(enhanced_code_length("2.0.0", '2'), 5u);
  EXPECT_EQ(enhanced_code_length("2.0.0 ok", '2'), 5u);
  EXPECT_EQ(enhanced_code_length("5.999.999 x", '5'), 9u);
  EXPECT_EQ(enhanced_code_length("5.999.999 x", '4'), 0u);
  EXPECT_EQ(enhanced_code_length("2.0.", '2'), 0u);
  EXPECT_EQ(enhanced_code_length("2.a.0", '2'), 0u);
  EXPECT_EQ(enhanced_code_length("", '2'), 0u);
}

TEST(ReplyParser, EhloReplyRawLinesKept) {
  const ParsedReply r =
      one("250-mx.example.org Hello [192.0.2.1]\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
          "250 CHUNKING\r\n");
  EXPECT_EQ(r.reply, (Reply{250, "",
                            "mx.example.org Hello [192.0.2.1]\nPIPELINING\nSIZE "
                            "10240000\nCHUNKING"}));
  EXPECT_EQ(r.lines,
            (std::vector<std::string>{"250-mx.example.org Hello [192.0.2.1]", "250-PIPELINING",
                                      "250-SIZE 10240000", "250 CHUNKING"}));
}

TEST(ReplyParser, BareLfAcceptedAndMixedWithCrlf) {
  const ParsedReply r = one("250-a\n250-b\r\n250 c\n");
  EXPECT_EQ(r.reply, (Reply{250, "", "a\nb\nc"}));
  EXPECT_EQ(r.lines, (std::vector<std::string>{"250-a", "250-b", "250 c"}));
}

TEST(ReplyParser, PipelinedRepliesComeOutInOrder) {
  const std::string wire =
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <x@example.org>: unknown\r\n354 End data with "
      "<CR><LF>.<CR><LF>\r\n";
  const ParseResult r = parse(wire);
  EXPECT_EQ(r.error, ReplyParseError::None);
  EXPECT_EQ(r.consumed, wire.size());
  ASSERT_EQ(r.replies.size(), 4u);
  EXPECT_EQ(r.replies[0].reply, (Reply{250, "2.1.0", "Ok"}));
  EXPECT_EQ(r.replies[1].reply, (Reply{250, "2.1.5", "Ok"}));
  EXPECT_EQ(r.replies[2].reply, (Reply{550, "5.1.1", "<x@example.org>: unknown"}));
  EXPECT_EQ(r.replies[3].reply, (Reply{354, "", "End data with <CR><LF>.<CR><LF>"}));
}

TEST(ReplyParser, QueuesUntilTaken) {
  ReplyParser p;
  EXPECT_EQ(p.feed("250 a\r\n251 b\r\n25"sv), 16u);
  EXPECT_EQ(p.queued(), 2u);
  EXPECT_TRUE(p.partial());
  EXPECT_EQ(p.next()->reply.code, 250);
  EXPECT_EQ(p.next()->reply.code, 251);
  EXPECT_FALSE(p.next().has_value());
  EXPECT_EQ(p.feed("2 c\r\n"sv), 5u);
  EXPECT_FALSE(p.partial());
  EXPECT_EQ(p.next()->reply, (Reply{252, "", "c"}));
}

TEST(ReplyParser, PartialCoversUnfinishedMultiLineReplies) {
  ReplyParser p;
  p.feed("220 2.0.0 Ready to start TLS\r\n"sv);
  EXPECT_FALSE(p.partial());
  p.feed("250-injected\r\n"sv);  // a whole line, but the reply is not complete
  EXPECT_TRUE(p.partial());
  EXPECT_EQ(p.queued(), 1u);
}

TEST(ReplyParser, Utf8AndControlOctetsOtherThanNulAndCrAreKept) {
  EXPECT_EQ(one("550 5.1.1 <\xC3\xB6@example.org> unknown\r\n").reply.text,
            "<\xC3\xB6@example.org> unknown");
  EXPECT_EQ(one("250 tab\there\r\n").reply.text, "tab\there");
}

struct BadCase {
  std::string wire;
  ReplyParseError error;
  std::size_t consumed;  // where the parser stopped
  std::size_t replies;   // complete replies before the error
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << visible(c.wire);
}

class ReplyParserErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ReplyParserErrors, StopsAtTheOffendingOctet) {
  const BadCase& c = GetParam();
  const ParseResult r = parse(c.wire);
  EXPECT_EQ(r.error, c.error) << r;
  EXPECT_EQ(r.consumed, c.consumed) << r;
  EXPECT_EQ(r.replies.size(), c.replies) << r;
}

const ReplyParseError kBadCode = ReplyParseError::BadCode;
const ReplyParseError kMismatch = ReplyParseError::CodeMismatch;
const ReplyParseError kOctet = ReplyParseError::BadOctet;

INSTANTIATE_TEST_SUITE_P(
    Table, ReplyParserErrors,
    ::testing::Values(BadCase{"\r\n", kBadCode, 1, 0},                        // empty line
                      BadCase{"25\r\n", kBadCode, 3, 0},                      // two digits
                      BadCase{"2500 x\r\n", kBadCode, 7, 0},                  // four digits
                      BadCase{"250x\r\n", kBadCode, 5, 0},                    // no separator
                      BadCase{"250\tx\r\n", kBadCode, 6, 0},                  // HT is not SP
                      BadCase{"150 x\r\n", kBadCode, 6, 0},                   // first digit 1
                      BadCase{"650 x\r\n", kBadCode, 6, 0},                   // first digit 6
                      BadCase{"260 x\r\n", kBadCode, 6, 0},                   // second digit 6
                      BadCase{"25a x\r\n", kBadCode, 6, 0},                   // third not a digit
                      BadCase{" 250 x\r\n", kBadCode, 7, 0},                  // leading space
                      BadCase{"250 ok\r\nhello\r\n", kBadCode, 14, 1},        // garbage after
                      BadCase{"250-a\r\n251 b\r\n", kMismatch, 13, 0},        // code changes
                      BadCase{"250-a\r\n550-b\r\n", kMismatch, 13, 0},        // class changes
                      BadCase{std::string("250 a\0b\r\n", 9), kOctet, 5, 0},  // NUL
                      BadCase{"250 a\rb\r\n", kOctet, 6, 0},                  // bare CR in text
                      BadCase{"250 a\r\r\n", kOctet, 6, 0},                   // CR CR LF
                      BadCase{"250 ok\r\n\r250 x\r\n", kOctet, 9, 1}));       // CR at line start

TEST(ReplyParser, NothingIsConsumedAfterAnError) {
  ReplyParser p;
  EXPECT_EQ(p.feed("250 ok\r\nbad\r\n250 later\r\n"sv), 12u);  // stops at the LF of "bad"
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error(), ReplyParseError::BadCode);
  EXPECT_EQ(p.error_reason(), "malformed reply code");
  EXPECT_EQ(p.feed("250 more\r\n"sv), 0u);
  // The reply completed before the error is still there; nothing after it.
  EXPECT_EQ(p.next()->reply, (Reply{250, "", "ok"}));
  EXPECT_FALSE(p.next().has_value());
}

TEST(ReplyParser, ErrorReasonEmptyWithoutError) {
  ReplyParser p;
  EXPECT_EQ(p.error_reason(), "");
  for (auto e : {ReplyParseError::BadCode, ReplyParseError::CodeMismatch, ReplyParseError::BadOctet,
                 ReplyParseError::LineTooLong, ReplyParseError::TooManyLines})
    EXPECT_FALSE(describe(e).empty());
}

// Limits: max_line octets of line content (CRLF not counted), tested at N and N+1.
TEST(ReplyParser, DefaultMaxLineAtNAndNPlusOne) {
  const ReplyParserLimits defaults;
  ASSERT_EQ(defaults.max_line, 2048u);
  const std::string at_n = "250 " + std::string(2048 - 4, 'x');
  ReplyParser ok;
  EXPECT_EQ(ok.feed(at_n + "\r\n"), at_n.size() + 2);
  EXPECT_FALSE(ok.failed());
  EXPECT_EQ(ok.next()->lines[0], at_n);

  ReplyParser too_long;
  EXPECT_EQ(too_long.feed(at_n + "x\r\n"), at_n.size());
  EXPECT_EQ(too_long.error(), ReplyParseError::LineTooLong);
}

TEST(ReplyParser, SmallMaxLineAtNAndNPlusOneUnderEverySplit) {
  const ReplyParserLimits small{10, 128};
  // N = 10 octets, with CRLF, with bare LF, as a continuation line.
  for (const std::string wire : {"250 123456\r\n", "250 123456\n", "250-123456\r\n250 12345\r\n"}) {
    const ParseResult r = parse(wire, small);
    EXPECT_EQ(r.error, ReplyParseError::None) << visible(wire);
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_EQ(r.replies.size(), 1u);
  }
  // N + 1: refused at the 11th octet, even before the line ends, so memory stays bounded.
  for (const std::string wire :
       {"250 1234567\r\n", "250 1234567", "250-123456\r\n250 1234567\r\n"}) {
    const ParseResult r = parse(wire, small);
    EXPECT_EQ(r.error, ReplyParseError::LineTooLong) << visible(wire);
    EXPECT_EQ(r.consumed, wire.find("1234567") + 6) << visible(wire);
    EXPECT_TRUE(r.replies.empty());
  }
}

std::string lines_reply(std::size_t n) {
  std::string s;
  for (std::size_t i = 1; i < n; ++i) s += "250-line\r\n";
  return s + "250 last\r\n";
}

TEST(ReplyParser, DefaultMaxLinesAtNAndNPlusOne) {
  const ReplyParserLimits defaults;
  ASSERT_EQ(defaults.max_lines, 128u);
  ReplyParser ok;
  const std::string n = lines_reply(128);
  EXPECT_EQ(ok.feed(n), n.size());
  ASSERT_EQ(ok.queued(), 1u);
  EXPECT_EQ(ok.next()->lines.size(), 128u);

  ReplyParser too_many;
  const std::string n1 = lines_reply(129);
  EXPECT_EQ(too_many.feed(n1), n1.size() - 1);  // stops at the LF of line 129
  EXPECT_EQ(too_many.error(), ReplyParseError::TooManyLines);
  EXPECT_EQ(too_many.queued(), 0u);
}

TEST(ReplyParser, SmallMaxLinesAtNAndNPlusOneUnderEverySplit) {
  const ReplyParserLimits small{2048, 3};
  const ParseResult ok = parse(lines_reply(3) + lines_reply(1), small);
  EXPECT_EQ(ok.error, ReplyParseError::None);
  ASSERT_EQ(ok.replies.size(), 2u);
  EXPECT_EQ(ok.replies[0].lines.size(), 3u);
  // The limit is per reply: the next reply starts counting again.
  const ParseResult again = parse(lines_reply(3) + lines_reply(3), small);
  EXPECT_EQ(again.replies.size(), 2u);
  const ParseResult bad = parse(lines_reply(2) + lines_reply(4), small);
  EXPECT_EQ(bad.error, ReplyParseError::TooManyLines);
  EXPECT_EQ(bad.replies.size(), 1u);
}

// append_reply's output parses back into the same reply (the two are each other's inverse).
TEST(ReplyParser, ReadsBackEveryTableReplyAndMultiLineFormatting) {
  std::vector<Reply> replies;
  for (const ReplyEntry& e : reply_table()) replies.push_back(make_reply(e.id, "mx.example.org"));
  replies.push_back(Reply{250, "", "mx.example.org\nPIPELINING\nSIZE 1000\n8BITMIME"});
  replies.push_back(Reply{550, "5.7.1", "line one\nline two\n\nlast"});
  replies.push_back(Reply{250, "2.0.0", ""});
  std::string wire;
  for (const Reply& r : replies) append_reply(wire, r);
  const ParseResult got = parse(wire);
  EXPECT_EQ(got.error, ReplyParseError::None);
  ASSERT_EQ(got.replies.size(), replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i)
    EXPECT_EQ(got.replies[i].reply, replies[i]) << format_reply(replies[i]);
}

// A whole client-side transcript of a session, cut everywhere.
TEST(ReplyParser, TranscriptUnderEverySplit) {
  const std::string wire =
      "220 mx.example.org ESMTP\r\n"
      "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n"
      "250 ENHANCEDSTATUSCODES\r\n"
      "334 \r\n235 2.7.0 Authentication successful\r\n"
      "250 2.1.0 Ok\n250 2.1.5 Ok\r\n452-4.5.3 Too many\r\n452 4.5.3 recipients\r\n"
      "354 go ahead\r\n250 2.0.0 Ok: queued as 4ABC\r\n221 2.0.0 Bye\r\n";
  const ParseResult r = parse(wire);
  EXPECT_EQ(r.error, ReplyParseError::None);
  EXPECT_FALSE(r.partial);
  ASSERT_EQ(r.replies.size(), 10u);
  EXPECT_EQ(r.replies[2].reply, (Reply{334, "", ""}));
  EXPECT_EQ(r.replies[6].reply, (Reply{452, "4.5.3", "Too many\nrecipients"}));
  EXPECT_EQ(r.replies[9].reply, (Reply{221, "2.0.0", "Bye"}));
}

}  // namespace
}  // namespace taube::smtp
