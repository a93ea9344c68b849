// PoolStats (net/blocking_pool.hpp): the disk pool's backlog as the metrics read it.
#include "net/blocking_pool.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

namespace taube::net {
namespace {

TEST(PoolStats, CountsQueuedRunningAndDoneJobs) {
  asio::thread_pool pool(1);
  std::mutex mu;
  std::condition_variable cv;
  bool go = false, started = false;
  // The one thread is kept busy: everything posted after it waits.
  post_job(pool, [&] {
    std::unique_lock lk(mu);
    started = true;
    cv.notify_all();
    cv.wait(lk, [&] { return go; });
  });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return started; });
  }
  for (int i = 0; i < 5; ++i) post_job(pool, [] {});
  auto c = pool_stats(pool).counts();
  EXPECT_EQ(c.running, 1u);
  EXPECT_EQ(c.queued, 5u);
  EXPECT_EQ(c.done, 0u);
  {
    std::lock_guard lk(mu);
    go = true;
  }
  cv.notify_all();
  pool.join();
  c = pool_stats(pool).counts();
  EXPECT_EQ(c.running, 0u);
  EXPECT_EQ(c.queued, 0u);
  EXPECT_EQ(c.done, 6u);
}

TEST(PoolStats, RunBlockingIsCounted) {
  asio::io_context io;
  asio::thread_pool pool(2);
  int result = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto job = [] { return 42; };
        result = co_await run_blocking(pool, job);
      },
      asio::detached);
  io.run();
  EXPECT_EQ(result, 42);
  EXPECT_EQ(pool_stats(pool).counts().done, 1u);
  pool.join();
}

}  // namespace
}  // namespace taube::net
