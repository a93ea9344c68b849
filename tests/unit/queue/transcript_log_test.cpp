// queue/transcript_log: the last attempts' transcripts in one file, oldest dropped first.
#include "queue/transcript_log.hpp"

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

constexpr std::int64_t kT = 1'796'248'731;  // 2026-12-02 21:58:51 UTC

TEST(TranscriptLog, HeadingNamesTheTimeAndTheRelay) {
  EXPECT_EQ(attempt_heading(kT, "mx.remote.test[192.0.2.1]:25"),
            "attempt at 2026-12-02 21:58:51 UTC, mx.remote.test[192.0.2.1]:25");
  EXPECT_EQ(attempt_heading(kT, ""), "attempt at 2026-12-02 21:58:51 UTC");
  EXPECT_EQ(attempt_heading(kT, "a\nb\r"), "attempt at 2026-12-02 21:58:51 UTC, a b ");
}

TEST(TranscriptLog, AttemptsAreAppendedAndReadBackOldestFirst) {
  std::string f = add_attempt("", "one", "> EHLO a\n< 451 later\n");
  f = add_attempt(f, "two", "> EHLO a\n< 250 ok");  // no final newline: one is added
  EXPECT_EQ(f, "=== one ===\n> EHLO a\n< 451 later\n=== two ===\n> EHLO a\n< 250 ok\n");
  const auto s = split_attempts(f);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].heading, "one");
  EXPECT_EQ(s[0].text, "> EHLO a\n< 451 later\n");
  EXPECT_EQ(s[1].heading, "two");
  EXPECT_EQ(last_attempt(f), "> EHLO a\n< 250 ok\n");
}

// A file of the last attempt alone (before sections existed) is one section with no heading,
// and the next attempt is added after it.
TEST(TranscriptLog, AFileWithoutHeadingsIsOneOldSection) {
  const std::string old = "< 220 hi\n> QUIT";
  const auto s = split_attempts(old);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].heading, "");
  EXPECT_EQ(s[0].text, "< 220 hi\n> QUIT\n");
  EXPECT_EQ(last_attempt(old), "< 220 hi\n> QUIT\n");
  const auto two = split_attempts(add_attempt(old, "new", "< 554 no\n"));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].text, "< 220 hi\n> QUIT\n");
  EXPECT_EQ(two[1].heading, "new");
  EXPECT_TRUE(split_attempts("").empty());
  EXPECT_EQ(last_attempt(""), "");
}

// A peer's reply cannot open a section: its lines start with "< ".
TEST(TranscriptLog, ARepliedHeadingIsJustALine) {
  const auto s = split_attempts(add_attempt("", "real", "< === attempt at forged ===\n"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].heading, "real");
  // Nor is a line with an empty heading one (it could not be written back as a section).
  const auto t = split_attempts("===  ===\n< 250 ok\n");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].heading, "");
  EXPECT_EQ(t[0].text, "===  ===\n< 250 ok\n");
}

TEST(TranscriptLog, KeepsTheLastAttemptsAndABoundedSize) {
  std::string f;
  for (int i = 0; i < 8; ++i) f = add_attempt(f, "a" + std::to_string(i), "< line\n", 5);
  auto s = split_attempts(f);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s.front().heading, "a3");
  EXPECT_EQ(s.back().heading, "a7");
  // By size: three 40-octet sections in 100 octets keep the last two; one larger than the cap
  // alone is still kept whole.
  const std::string line(30, 'x');
  f.clear();
  for (int i = 0; i < 3; ++i)
    f = add_attempt(f, "s" + std::to_string(i), "< " + line + "\n", 5, 100);
  s = split_attempts(f);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s.front().heading, "s1");
  f = add_attempt(f, "big", "< " + std::string(500, 'y') + "\n", 5, 100);
  s = split_attempts(f);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].heading, "big");
}

}  // namespace
}  // namespace taube::queue
