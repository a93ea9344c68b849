// GroupSync: concurrent callers share flushes, and no caller returns on a flush that began
// before its call (its writes might have missed it).
#include "store/group_sync.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "store/failing_fs.hpp"

namespace taube::store {
namespace {

using test::FailingFs;
using test::Op;
using test::TempDir;

// Counts flushes: each syncfs gets a number when it starts; `completed` is the highest number of
// a flush that has finished (its fsync included).
class CountingFs : public FailingFs {
 public:
  std::atomic<int> started{0};
  std::atomic<int> completed{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  int syncfs(int fd) override {
    const int n = ++started;
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    const int r = FailingFs::syncfs(fd);
    --in_flight;
    pending_ = n;
    return r;
  }
  int fsync(int fd) override {
    const int r = FailingFs::fsync(fd);
    int c = completed.load();
    while (pending_ > c && !completed.compare_exchange_weak(c, pending_)) {
    }
    return r;
  }

 private:
  int pending_ = 0;  // written by the flushing leader only (one at a time)
};

TEST(GroupSync, ConcurrentCallersShareFlushesThatStartedAfterTheirCall) {
  TempDir dir;
  CountingFs fs;
  GroupSync sync(fs, dir.path());
  constexpr int kThreads = 8, kCalls = 40;
  std::atomic<int> early{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        const int before = fs.started.load();
        ASSERT_TRUE(sync.sync());
        // A flush numbered after `before` must have completed.
        if (fs.completed.load() <= before) ++early;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(fs.max_in_flight.load(), 1);  // one flush at a time
  EXPECT_EQ(sync.flushes(), static_cast<std::uint64_t>(fs.started.load()));
  // Shared: far fewer flushes than calls (each caller waits for at most two).
  EXPECT_LT(sync.flushes(), static_cast<std::uint64_t>(kThreads * kCalls) / 2);
}

TEST(GroupSync, AFailedFlushFailsItsCallersAndTheNextOneCanSucceed) {
  TempDir dir;
  FailingFs fs;
  GroupSync sync(fs, dir.path());
  fs.fail_nth(Op::Syncfs, 1, EIO);
  auto r = sync.sync();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), StoreError::Io);
  EXPECT_TRUE(sync.sync());
  fs.fail_nth(Op::Fsync, fs.calls(Op::Fsync) + 1, ENOSPC);
  auto full = sync.sync();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), StoreError::NoSpace);
}

TEST(GroupSync, AMissingDirectoryIsAnError) {
  TempDir dir;
  GroupSync sync(posix_fs(), dir / "absent");
  EXPECT_FALSE(sync.sync());
}

}  // namespace
}  // namespace taube::store
