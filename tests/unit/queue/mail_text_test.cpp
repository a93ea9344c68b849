// Tests for src/queue/mail_text.cpp: cleaning of outside text, header folding that unfolds to the
// same value, the 998-octet hard limit at N and N+1, UTF-8-safe cuts and RFC 5322 dates.
#include "queue/mail_text.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t nl = s.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "last line without LF";
    if (nl == std::string::npos) break;
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

std::string unfold(const std::string& s) {
  std::string out;
  for (const char c : s)
    if (c != '\n') out += c;
  return out;
}

TEST(CleanText, LineBreaksAndControlsCannotSurvive) {
  EXPECT_EQ(clean_text("a\r\nX-Evil: 1\r\n\r\nb", TextCharset::Ascii), "a X-Evil: 1 b");
  EXPECT_EQ(clean_text("  lead\t\ttab  trail  ", TextCharset::Ascii), "lead tab trail");
  EXPECT_EQ(clean_text(std::string("n\0ul\x7f\x1b", 6), TextCharset::Ascii), "n?ul??");
  EXPECT_EQ(clean_text("\r\n\r\n", TextCharset::Ascii), "");
}

TEST(CleanText, NonAsciiByCharset) {
  EXPECT_EQ(clean_text("jörg", TextCharset::Ascii), "j??rg");  // two octets, two '?'
  EXPECT_EQ(clean_text("jörg 用户 😀", TextCharset::Utf8), "jörg 用户 😀");
  // Invalid UTF-8: a lone continuation, an overlong, a surrogate, a truncated sequence.
  EXPECT_EQ(clean_text("a\x80z", TextCharset::Utf8), "a?z");
  EXPECT_EQ(clean_text("\xc0\xaf", TextCharset::Utf8), "??");
  EXPECT_EQ(clean_text("\xed\xa0\x80", TextCharset::Utf8), "???");
  EXPECT_EQ(clean_text("x\xe2\x82", TextCharset::Utf8), "x??");
  EXPECT_EQ(clean_text("\xf4\x90\x80\x80", TextCharset::Utf8), "????");  // above U+10FFFF
}

TEST(HeaderField, ShortFieldsStayOnOneLine) {
  EXPECT_EQ(header_field("Action", "failed"), "Action: failed\n");
  EXPECT_EQ(header_field("X-Empty", ""), "X-Empty:\n");
  EXPECT_EQ(header_field("Final-Recipient", "rfc822; "), "Final-Recipient: rfc822;\n");
}

TEST(HeaderField, FoldsAtSpacesAndUnfoldsToTheSameValue) {
  std::string value;
  for (int i = 0; i < 60; ++i) value += "word" + std::to_string(i) + " ";
  value.pop_back();
  const std::string f = header_field("Diagnostic-Code", value);
  const auto lines = lines_of(f);
  ASSERT_GT(lines.size(), 3u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), kFoldColumn) << lines[i];
    if (i > 0) EXPECT_EQ(lines[i][0], ' ');
  }
  EXPECT_EQ(unfold(f), "Diagnostic-Code: " + value);
}

TEST(HeaderField, HardLimitAtNAndNPlusOne) {
  // A word that does not fit the fold column goes to a continuation line of its own: " " and a
  // word of 997 octets make exactly 998.
  const std::string fits(997, 'a');
  EXPECT_EQ(header_field("X", fits), "X:\n " + fits + "\n");
  const std::string over(998, 'a');
  const auto lines = lines_of(header_field("X", over));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "X:");
  EXPECT_EQ(lines[1], " " + std::string(997, 'a'));
  EXPECT_EQ(lines[2], " a");
  // A long word after a short one goes to its own line first, then is cut there.
  const auto l2 = lines_of(header_field("X", "short " + std::string(2500, 'b')));
  ASSERT_EQ(l2.size(), 4u);
  EXPECT_EQ(l2[0], "X: short");
  for (const auto& l : l2) EXPECT_LE(l.size(), kMaxLineOctets);
  EXPECT_EQ(l2[1].size(), kMaxLineOctets);
}

TEST(HeaderField, CutsNeverSplitAUtf8Character) {
  std::string word;
  while (word.size() < 3000) word += "用";  // 3 octets each
  const std::string f = header_field("X", word);
  for (const auto& l : lines_of(f)) {
    EXPECT_LE(l.size(), kMaxLineOctets);
    EXPECT_EQ(clean_text(l, TextCharset::Utf8), l.substr(l[0] == ' ' ? 1 : 0)) << "split char";
  }
}

TEST(WrapText, IndentsContinuations) {
  const std::string t = wrap_text(
      "<bob@remote.test>: host mx.remote.test said: 550 5.1.1 user unknown in virtual "
      "mailbox table",
      "    ");
  const auto lines = lines_of(t);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].substr(0, 5), "    m");
  EXPECT_EQ(wrap_text("", ""), "\n");
}

TEST(Utf8Prefix, BacksOffToACharacterBoundary) {
  EXPECT_EQ(utf8_prefix("abc", 5), "abc");
  EXPECT_EQ(utf8_prefix("abc", 2), "ab");
  EXPECT_EQ(utf8_prefix("aö", 2), "a");  // ö is 2 octets: it does not fit
  EXPECT_EQ(utf8_prefix("aöb", 3), "aö");
  EXPECT_EQ(utf8_prefix("用户", 5), "用");
}

TEST(Rfc5322Date, KnownInstants) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
  EXPECT_EQ(rfc5322_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(1764600000), "Mon, 1 Dec 2025 14:40:00 +0000");
  EXPECT_EQ(rfc5322_date(1764600000 + 432000), "Sat, 6 Dec 2025 14:40:00 +0000");
}

}  // namespace
}  // namespace taube::queue
