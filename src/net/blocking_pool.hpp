// Runs blocking work (disk writes, fsync, password hashing) on the worker pool and resumes the
// calling coroutine on its own executor, so the event loop never waits for the disk.
#pragma once

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

// `f` runs on a pool thread; the caller's frame (which owns `f` and the result) stays suspended
// until the completion is posted back, so plain references are safe here. `f` is taken by
// reference and must be a named object of the caller: GCC 12 destroys by-value coroutine
// parameters built from temporaries twice (seen with ASan), so no temporaries here.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F& f) {
  using R = std::invoke_result_t<F&>;
  // Tracked: the io_context must not run out of work while the job is on the pool.
  auto home =
      asio::prefer(co_await asio::this_coro::executor, asio::execution::outstanding_work.tracked);
  std::optional<R> result;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [&](auto handler) {
        asio::post(pool, [&, home, handler = std::move(handler)]() mutable {
          result.emplace(f());
          asio::post(home, std::move(handler));
        });
      },
      asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace taube::net
