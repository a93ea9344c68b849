#include "net/async_message.hpp"

#include <asio/post.hpp>

#include "net/blocking_pool.hpp"

namespace taube::net {

AsyncMessage::AsyncMessage(asio::thread_pool& pool, std::unique_ptr<store::MessageWriter> writer)
    : pool_(pool), writer_(std::move(writer)) {}

AsyncMessage::~AsyncMessage() {
  abort();
}

asio::awaitable<void> AsyncMessage::flush() {
  auto w = writer_;
  auto job = [w] {
    w->flush();
    return 0;
  };
  co_await run_blocking(pool_, job);
}

asio::awaitable<store::CommitOutcome> AsyncMessage::commit(const std::string& prefix) {
  done_ = true;
  auto w = writer_;
  auto job = [w, &prefix] { return w->commit(prefix); };
  co_return co_await run_blocking(pool_, job);
}

void AsyncMessage::abort() {
  if (done_) return;
  done_ = true;
  auto w = writer_;
  asio::post(pool_, [w] { w->abort(); });
}

}  // namespace taube::net
