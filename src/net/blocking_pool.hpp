// Runs blocking work (disk writes, fsync) on the worker pool and resumes the calling coroutine on
// its own executor, so the event loop never waits for the disk.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F f) {
  using R = std::invoke_result_t<F&>;
  // co_spawn needs a default-constructible result; optional<R> is, whatever R is.
  std::optional<R> r = co_await asio::co_spawn(
      pool, [f = std::move(f)]() mutable -> asio::awaitable<std::optional<R>> { co_return f(); },
      asio::use_awaitable);
  co_return std::move(*r);
}

}  // namespace taube::net
