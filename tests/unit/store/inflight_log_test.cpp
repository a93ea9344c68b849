// InflightLog: marks survive into the next start, are emptied then, and the two files take
// turns without dropping a mark that still waits for its result.
#include "store/inflight_log.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::Op;
using test::read_file;
using test::TempDir;

queue::InflightMark mark(const std::string& name) {
  queue::InflightMark m;
  m.time = 100;
  m.name = name;
  m.relay = "peer[127.0.0.2]:25";
  m.recipients = {{0, 1}};
  return m;
}

TEST(InflightLog, MarksOfOneRunAreTheNextRunsRecovery) {
  TempDir dir;
  {
    InflightLog log(dir.path());
    EXPECT_TRUE(log.recover().empty());
    const int t = log.mark(mark("a"));
    ASSERT_GE(t, 0);
    ASSERT_GE(log.mark(mark("b")), 0);
    log.recorded(t);  // recorded results stay in the file: the envelope tells
  }
  InflightLog again(dir.path());
  auto marks = again.recover();
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0], mark("a"));
  EXPECT_EQ(marks[1], mark("b"));
  // Emptied by the recovery.
  EXPECT_EQ(read_file(dir / "inflight.0"), "");
  EXPECT_EQ(read_file(dir / "inflight.1"), "");
  EXPECT_TRUE(InflightLog(dir.path()).recover().empty());
}

TEST(InflightLog, FilesTakeTurnsOnlyWhenTheOtherHoldsNothingThatWaits) {
  TempDir dir;
  InflightLog log(dir.path());
  log.recover();
  const std::string long_name(200, 'n');
  // Fill file 0 past the rotation size; one mark there stays unrecorded.
  const int waiting = log.mark(mark("waits"));
  ASSERT_EQ(waiting, 0);
  std::uint64_t written = queue::encode_mark(mark("waits")).size();
  while (written < InflightLog::kRotateBytes) {
    const int t = log.mark(mark(long_name));
    ASSERT_EQ(t, 0);
    log.recorded(t);
    written += queue::encode_mark(mark(long_name)).size();
  }
  // Now file 1 (empty, nothing waiting) takes over.
  const int t1 = log.mark(mark("in1"));
  EXPECT_EQ(t1, 1);
  // Fill file 1 too: file 0 still has "waits" outstanding, so file 1 keeps growing.
  written = queue::encode_mark(mark("in1")).size();
  while (written < InflightLog::kRotateBytes) {
    const int t = log.mark(mark(long_name));
    ASSERT_EQ(t, 1);
    log.recorded(t);
    written += queue::encode_mark(mark(long_name)).size();
  }
  EXPECT_EQ(log.mark(mark("still1")), 1);
  EXPECT_EQ(log.outstanding(0), 1u);
  // Once "waits" is recorded, file 0 is emptied and reused.
  log.recorded(waiting);
  EXPECT_EQ(log.mark(mark("back0")), 0);
  EXPECT_EQ(read_file(dir / "inflight.0"), queue::encode_mark(mark("back0")));
  // A crash now: the next start sees the marks of both files, none lost that may wait.
  InflightLog next(dir.path());
  auto marks = next.recover();
  std::vector<std::string> names;
  for (const auto& m : marks)
    if (m.name != long_name) names.push_back(m.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"back0", "in1", "still1"}));
}

TEST(InflightLog, AFailedWriteIsNoTicketAndTheDeliveryGoesOn) {
  TempDir dir;
  FailingFs fs;
  InflightLog log(dir.path(), fs);
  log.recover();
  fs.fail_nth(Op::Write, fs.calls(Op::Write) + 1, ENOSPC);
  EXPECT_EQ(log.mark(mark("x")), -1);
  log.recorded(-1);  // harmless
  EXPECT_EQ(log.mark(mark("y")), 0);
}

}  // namespace
}  // namespace taube::store
