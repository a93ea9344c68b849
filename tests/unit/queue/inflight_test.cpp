// The in-flight mark's line format: round trip, torn and malformed lines, every prefix of a log
// (a crash can cut the file anywhere), and which recipients count as unrecorded.
#include "queue/inflight.hpp"

#include <gtest/gtest.h>

#include "queue/attempt.hpp"

namespace taube::queue {
namespace {

InflightMark sample(std::string name, std::size_t first = 0) {
  InflightMark m;
  m.time = 1764633600;
  m.name = std::move(name);
  m.relay = "mx.remote.test[127.0.0.2]:25";
  m.recipients = {{first, 0}, {first + 2, 3}};
  return m;
}

TEST(InflightMark, RoundTrips) {
  const InflightMark m = sample("1764633600.M1P2Q3_taube.host");
  const std::string line = encode_mark(m);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line,
            "taube-inflight 1 1764633600 1764633600.M1P2Q3_taube.host "
            "mx.remote.test[127.0.0.2]:25 0:0,2:3\n");
  auto back = parse_mark(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
}

TEST(InflightMark, ARelayWithSpacesOrNoneStaysOneWord) {
  InflightMark m = sample("n1");
  m.relay = "odd host\tname";
  auto back = parse_marks(encode_mark(m));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].relay, "odd_host_name");
  m.relay.clear();
  back = parse_marks(encode_mark(m));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].relay, "");
}

TEST(InflightMark, MalformedLinesAreNotMarks) {
  for (const char* bad : {
           "",
           "taube-inflight 1",
           "taube-inflight 2 1 n r 0:0",        // another version
           "taube-inflight 1 x n r 0:0",        // time
           "taube-inflight 1 1 n r",            // no recipients
           "taube-inflight 1 1 n r 0:0 extra",  // trailing word
           "taube-inflight 1 1 n r 0:0,",       // trailing comma
           "taube-inflight 1 1 n r 0",          // no attempts
           "taube-inflight 1 1 n r 0:-1",       // negative
           "taube-inflight 1 1 n r a:1",        // index
           "taube-inflight 1 1 ../n r 0:0",     // a path, not a name
           "taube-inflight 1 1  r 0:0",         // empty name
           "garbage line",
       })
    EXPECT_FALSE(parse_mark(bad)) << bad;
}

// A crash can leave the log cut at any byte: every prefix yields only whole, correct marks, and
// the marks up to the last complete line.
TEST(InflightMark, EveryPrefixOfALogYieldsOnlyWholeMarks) {
  const InflightMark a = sample("first"), b = sample("second", 5);
  const std::string text = encode_mark(a) + encode_mark(b);
  const std::size_t first_end = encode_mark(a).size();
  for (std::size_t n = 0; n <= text.size(); ++n) {
    auto marks = parse_marks(std::string_view(text).substr(0, n));
    const std::size_t want = n == text.size() ? 2 : n >= first_end ? 1 : 0;
    ASSERT_EQ(marks.size(), want) << "prefix " << n;
    if (want >= 1) EXPECT_EQ(marks[0], a);
    if (want == 2) EXPECT_EQ(marks[1], b);
  }
}

TEST(InflightMark, GarbageBetweenMarksIsSkipped) {
  const std::string text = encode_mark(sample("a")) + "\x01\x02 junk\n" + encode_mark(sample("b"));
  auto marks = parse_marks(text);
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[1].name, "b");
}

// Unrecorded: still queued and the attempt count unchanged. Recorded: counted, or final.
TEST(InflightMark, UnrecordedRecipientsAreTheQueuedOnesWhoseCountDidNotGrow) {
  QueueEnvelope env;
  env.recipients.resize(4);
  env.recipients[0].attempts = 0;  // mark said 0: unrecorded
  env.recipients[1].attempts = 1;  // not in the mark
  env.recipients[2].attempts = 4;  // mark said 3: recorded
  env.recipients[3].attempts = 2;
  env.recipients[3].state = RecipientState::Delivered;  // mark said 2 but final: recorded
  InflightMark m;
  m.name = "n";
  m.recipients = {{0, 0}, {2, 3}, {3, 2}, {9, 0}};  // 9: out of range (ignored)
  EXPECT_EQ(unrecorded(m, env), std::vector<std::size_t>{0});
  env.recipients[0].state = RecipientState::Deferred;
  EXPECT_EQ(unrecorded(m, env), std::vector<std::size_t>{0});
  env.recipients[0].attempts = 1;
  EXPECT_TRUE(unrecorded(m, env).empty());
}

}  // namespace
}  // namespace taube::queue
