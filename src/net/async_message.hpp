// AsyncMessage: a store::MessageWriter driven from the event loop. Content is appended in memory;
// flushes, the commit and the abort run on the worker pool (the disk never blocks the loop). The
// writer is shared with the pool jobs, so a connection that ends mid-message can drop it at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include "store/message_sink.hpp"

namespace taube::net {

class AsyncMessage {
 public:
  AsyncMessage(asio::thread_pool& pool, std::unique_ptr<store::MessageWriter> writer);
  ~AsyncMessage();  // abort() unless committed
  AsyncMessage(const AsyncMessage&) = delete;
  AsyncMessage& operator=(const AsyncMessage&) = delete;

  void append(std::string_view data) { writer_->append(data); }
  bool needs_flush() const { return writer_->needs_flush(); }
  asio::awaitable<void> flush();
  asio::awaitable<store::CommitOutcome> commit(const std::string& prefix);
  // Drops the message (on the pool). Idempotent.
  void abort();

 private:
  asio::thread_pool& pool_;
  std::shared_ptr<store::MessageWriter> writer_;
  bool done_ = false;
};

}  // namespace taube::net
