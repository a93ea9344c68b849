// The message of `taube sendmail` (app/sendmail_message.hpp): line endings, the "." line, the
// header section, -t's recipients, Bcc removal and the fields added. The input reader is a
// stream parser: every test feeds it whole, byte by byte and split at every index.
#include "app/sendmail_message.hpp"

#include <gtest/gtest.h>

namespace taube::app {
namespace {

struct Read {
  std::vector<std::string> lines;
  bool ended = false;
  bool operator==(const Read&) const = default;
};

Read read_in_pieces(std::string_view in, bool dot_ends, const std::vector<std::size_t>& cuts) {
  InputReader r(dot_ends);
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    r.feed(in.substr(from, cut - from));
    from = cut;
  }
  r.feed(in.substr(from));
  r.finish();
  return {r.lines(), r.ended()};
}

// The same result whole, byte by byte, and cut in two at every index.
Read read_all_ways(std::string_view in, bool dot_ends) {
  const Read whole = read_in_pieces(in, dot_ends, {});
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < in.size(); ++i) every.push_back(i);
  EXPECT_EQ(read_in_pieces(in, dot_ends, every), whole) << "byte by byte";
  for (std::size_t i = 1; i < in.size(); ++i)
    EXPECT_EQ(read_in_pieces(in, dot_ends, {i}), whole) << "cut at " << i;
  return whole;
}

using Lines = std::vector<std::string>;

TEST(SendmailInput, EveryLineEndingEndsALine) {
  const Read r = read_all_ways("a\nb\r\nc\rd\r\r\ne", true);
  EXPECT_EQ(r.lines, (Lines{"a", "b", "c", "d", "", "e"}));
  EXPECT_FALSE(r.ended);
  EXPECT_EQ(read_all_ways("x\r", true).lines, Lines{"x"});
  EXPECT_EQ(read_all_ways("", true).lines, Lines{});
  EXPECT_EQ(read_all_ways("\n\n", true).lines, (Lines{"", ""}));
}

TEST(SendmailInput, ALoneDotEndsTheInputWithoutDashI) {
  const Read r = read_all_ways("Subject: x\n\nbody\n.\nnot read\n", true);
  EXPECT_EQ(r.lines, (Lines{"Subject: x", "", "body"}));
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(read_all_ways("body\r\n.\r\nrest", true).ended);
  EXPECT_TRUE(read_all_ways("body\n.", true).ended);  // at the end of the input too
  // Only a line that is exactly ".": dots elsewhere are content (not dot-stuffing: sendmail
  // input is not SMTP).
  EXPECT_EQ(read_all_ways("..\n. \n.x\n", true).lines, (Lines{"..", ". ", ".x"}));
}

TEST(SendmailInput, WithDashIADotIsContent) {
  const Read r = read_all_ways("body\n.\nmore\n", false);
  EXPECT_EQ(r.lines, (Lines{"body", ".", "more"}));
  EXPECT_FALSE(r.ended);
}

TEST(SendmailSplit, HeadersWithContinuationsAndTheBody) {
  const auto m =
      split_message({"From: a@x", "To: b@y,", "\tc@z", "Subject: hi", "", "body", "", "end"});
  ASSERT_EQ(m.headers.size(), 3u);
  EXPECT_EQ(m.headers[1].name, "To");
  EXPECT_EQ(m.headers[1].lines, (Lines{"To: b@y,", "\tc@z"}));
  EXPECT_EQ(m.headers[1].value(), " b@y,\tc@z");
  EXPECT_EQ(m.body, (Lines{"body", "", "end"}));
}

TEST(SendmailSplit, NoHeadersIsAllBodyAndAnMboxFromLineIsDropped) {
  auto m = split_message({"hello world", "Subject: not a header"});
  EXPECT_TRUE(m.headers.empty());
  EXPECT_EQ(m.body, (Lines{"hello world", "Subject: not a header"}));
  m = split_message({"From alice@x Mon Jan  1 00:00:00 2024", "Subject: s", "", "b"});
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].name, "Subject");
  // The first line that is not a header ends them (no blank line in the input).
  m = split_message({"Subject: s", "plain text"});
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.body, Lines{"plain text"});
  m = split_message({" leading space", "x"});
  EXPECT_TRUE(m.headers.empty());
  // Obsolete syntax: white space before the colon.
  m = split_message({"Subject : s", "", "b"});
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_EQ(m.headers[0].name, "Subject");
}

TEST(SendmailAddresses, DisplayNamesCommentsQuotesAndGroups) {
  EXPECT_EQ(parse_address_list(" Bob <bob@x>, carol@y (Carol (the) boss), \"Doe, J\" <j@z>"),
            (Lines{"bob@x", "carol@y", "j@z"}));
  EXPECT_EQ(parse_address_list("team: a@x, B <b@x>;, c@y"), (Lines{"a@x", "b@x", "c@y"}));
  EXPECT_EQ(parse_address_list("undisclosed-recipients:;"), Lines{});
  EXPECT_EQ(parse_address_list("\"a b\"@x, \"quoted <not> angle\" <q@x>"),
            (Lines{"\"a b\"@x", "q@x"}));
  EXPECT_EQ(parse_address_list("<@relay.example:route@x>"), Lines{"route@x"});
  EXPECT_EQ(parse_address_list("bob @ example.org"), Lines{"bob@example.org"});
  EXPECT_EQ(parse_address_list("root, , Just A Phrase"), Lines{"root"});
  EXPECT_EQ(parse_address_list("(only a comment)"), Lines{});
  EXPECT_EQ(parse_address_list("a@x (unterminated"), Lines{"a@x"});
  EXPECT_EQ(parse_address_list("x\\)y (a\\) b) <c@d>"), Lines{"c@d"});
}

TEST(SendmailAddresses, HeaderRecipientsFromToCcBccIncludingFoldedOnes) {
  const auto m = split_message({"From: a@x", "To: Bob <bob@x>,", " carol@y", "cc: dave@z",
                                "BCC: (secret) eve@w", "Subject: s", "", "To: body@x"});
  EXPECT_EQ(header_recipients(m), (Lines{"bob@x", "carol@y", "dave@z", "eve@w"}));
}

TEST(SendmailAddresses, ResentFieldsWinWhenPresent) {
  const auto m = split_message(
      {"To: old@x", "Resent-To: new@x", "Resent-Bcc: hidden@x", "Resent-From: me@x", "", "b"});
  EXPECT_EQ(header_recipients(m), (Lines{"new@x", "hidden@x"}));
}

PrepareInput input() {
  return {"Alice <alice@example.org>", "Thu, 1 Jan 2026 00:00:00 +0000", "<id@mx.test>"};
}

TEST(SendmailPrepare, BccIsRemovedWithItsContinuations) {
  const auto m = split_message({"From: a@x", "To: b@x", "Bcc: c@x,", "\td@x", "Resent-Bcc: e@x",
                                "Date: d", "Message-ID: <m@x>", "Subject: s", "", "body"});
  const auto p = prepare_message(m, input());
  EXPECT_EQ(p.content, "From: a@x\nTo: b@x\nDate: d\nMessage-ID: <m@x>\nSubject: s\n\nbody\n");
  EXPECT_TRUE(p.bcc_removed);
  EXPECT_TRUE(p.added.empty());
  EXPECT_FALSE(p.eight_bit);
}

TEST(SendmailPrepare, MissingFieldsAreAddedAtTheEndOfTheHeaders) {
  auto p = prepare_message(split_message({"Subject: s", "To: b@x", "", "body"}), input());
  EXPECT_EQ(p.content,
            "Subject: s\nTo: b@x\nFrom: Alice <alice@example.org>\n"
            "Date: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <id@mx.test>\n\nbody\n");
  EXPECT_EQ(p.added, (Lines{"From", "Date", "Message-ID"}));
  // No headers at all (echo text | sendmail bob): a header section, a blank line, the text.
  p = prepare_message(split_message({"just text"}), input());
  EXPECT_EQ(p.content,
            "From: Alice <alice@example.org>\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n"
            "Message-ID: <id@mx.test>\nTo: undisclosed-recipients:;\n\njust text\n");
  // Only a Bcc: To becomes undisclosed-recipients (Postfix's undisclosed_recipients_header).
  p = prepare_message(
      split_message({"Bcc: x@y", "From: a@x", "Date: d", "Message-ID: <i>", "", "b"}), input());
  EXPECT_EQ(p.content, "From: a@x\nDate: d\nMessage-ID: <i>\nTo: undisclosed-recipients:;\n\nb\n");
}

TEST(SendmailPrepare, LongLinesAreBrokenAndEightBitIsNoticed) {
  const std::string words = "Subject:" + std::string(600, 'a') + " " + std::string(600, 'b');
  const std::string body(2100, 'x');
  const auto p = prepare_message(split_message({words, "From: f", "Date: d", "Message-ID: <i>",
                                                "To: t", "", body, "caf\xc3\xa9"}),
                                 input());
  EXPECT_EQ(p.content, "Subject:" + std::string(600, 'a') + "\n " + std::string(600, 'b') +
                           "\nFrom: f\nDate: d\nMessage-ID: <i>\nTo: t\n\n" +
                           std::string(998, 'x') + "\n" + std::string(998, 'x') + "\n" +
                           std::string(104, 'x') + "\ncaf\xc3\xa9\n");
  EXPECT_TRUE(p.eight_bit);
  // A header line without white space to fold at is broken with a continuation.
  const auto q = prepare_message(split_message({"X-Long: " + std::string(1500, 'z'), "From: f",
                                                "Date: d", "Message-ID: <i>", "To: t", "", "b"}),
                                 input());
  EXPECT_EQ(q.content.substr(0, 999), "X-Long: " + std::string(990, 'z') + "\n");
  EXPECT_EQ(q.content.substr(999, 512), " " + std::string(510, 'z') + "\n");
}

TEST(SendmailPrepare, FromValueQuotesOrEncodesTheName) {
  EXPECT_EQ(from_value("", "a@x"), "a@x");
  EXPECT_EQ(from_value("Alice Smith", "a@x"), "Alice Smith <a@x>");
  EXPECT_EQ(from_value("Smith, Alice \"A\"", "a@x"), "\"Smith, Alice \\\"A\\\"\" <a@x>");
  EXPECT_EQ(from_value("Jos\xc3\xa9", "a@x"), "=?UTF-8?B?Sm9zw6k=?= <a@x>");
  EXPECT_EQ(from_value(" bad\r\nBcc: x ", "a@x"), "\"badBcc: x\" <a@x>");
  // Long names: several encoded-words of at most 75 characters, cut between characters.
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xc3\xa9";
  const std::string v = from_value(name, "a@x");
  std::size_t start = 0, words = 0;
  while (start < v.size() && v[start] == '=') {
    const auto end = v.find("?=", start + 10) + 2;
    EXPECT_LE(end - start, 75u);
    ++words;
    start = end + 1;
  }
  EXPECT_EQ(words, 2u) << v;
}

}  // namespace
}  // namespace taube::app
