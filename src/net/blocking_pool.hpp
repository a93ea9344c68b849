// Runs blocking work (disk writes, fsync, password hashing) on the worker pool and resumes the
// calling coroutine on its own executor, so the event loop never waits for the disk.
//
// post_job() posts to the pool and counts the job (queued, running, done) for the metrics: the
// disk pool's backlog.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/this_coro.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

// The counts of a pool's jobs, kept as an Asio service of the pool itself, so that every holder
// of the asio::thread_pool& reaches the same counts without a type of its own.
class PoolStats final : public asio::execution_context::service {
 public:
  using key_type = PoolStats;
  static inline asio::execution_context::id id;
  explicit PoolStats(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  struct Counts {
    std::uint64_t queued = 0;   // posted, waiting for a thread: the disk's backlog
    std::uint64_t running = 0;  // on a thread now
    std::uint64_t done = 0;
  };
  Counts counts() const {
    Counts c;
    // started_ first: it never passes posted_, so reading posted_ later cannot underflow.
    const std::uint64_t started = started_.load(std::memory_order_acquire);
    c.queued = posted_.load(std::memory_order_acquire) - started;
    c.running = running_.load(std::memory_order_relaxed);
    c.done = done_.load(std::memory_order_relaxed);
    return c;
  }

  template <class F>
  friend void post_job(asio::thread_pool& pool, F&& f);

 private:
  void shutdown() override {}
  std::atomic<std::uint64_t> posted_{0}, started_{0}, done_{0}, running_{0};
};

inline PoolStats& pool_stats(asio::thread_pool& pool) {
  return asio::use_service<PoolStats>(pool);
}

// asio::post(pool, f), counted in the pool's PoolStats.
template <class F>
void post_job(asio::thread_pool& pool, F&& f) {
  PoolStats* w = &pool_stats(pool);
  w->posted_.fetch_add(1, std::memory_order_release);
  asio::post(pool, [w, f = std::forward<F>(f)]() mutable {
    w->running_.fetch_add(1, std::memory_order_relaxed);
    w->started_.fetch_add(1, std::memory_order_release);
    struct Done {
      PoolStats* w;
      ~Done() {
        w->running_.fetch_sub(1, std::memory_order_relaxed);
        w->done_.fetch_add(1, std::memory_order_relaxed);
      }
    } done{w};
    f();
  });
}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F& f) {
  using R = std::invoke_result_t<F&>;
  // Tracked: the io_context must not run out of work while the job is on the pool.
  auto home =
      asio::prefer(co_await asio::this_coro::executor, asio::execution::outstanding_work.tracked);
  std::optional<R> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        post_job(pool, [&, home, handler = std::move(handler)]() mutable {
          result.emplace(f());
          asio::post(home, std::move(handler));
        });
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace taube::net
