// MessageSpool: the content of one incoming message on its way to the Maildir store. Small
// messages stay in memory; at commit one worker job writes them and hands them to the delivery
// journal (durable there, linked into new/ by its publisher), or fsyncs and links them itself when
// there is no journal or it refuses. Larger ones are written in pieces by the worker pool as they
// arrive (bounded memory) and always take the direct path. A write error is
// sticky: the rest of the message is still read (the session must reach the end of data) and the
// commit reports the error, leaving nothing behind.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

#include "store/journaled_delivery.hpp"
#include "store/maildir_store.hpp"

namespace taube::net {

class MessageSpool {
 public:
  static constexpr std::size_t kFlushThreshold = 128 * 1024;

  // `discard`: protocol-only mode, nothing is stored (benchmarks). `journal` (may be null): a
  // message held in memory until commit goes through the delivery journal.
  MessageSpool(store::MaildirStore& store, asio::thread_pool& pool,
               std::vector<std::string> maildirs, bool discard,
               store::JournaledDelivery* journal = nullptr);
  ~MessageSpool();
  MessageSpool(const MessageSpool&) = delete;
  MessageSpool& operator=(const MessageSpool&) = delete;

  // Some recipients are relayed: `spool_dir` is among the Maildirs (the message lands in its
  // new/), and `envelope` is written durably to <spool_dir>/env/<unique> before the message is
  // published, so a queue runner never sees a message without its envelope.
  void set_relay(std::string spool_dir, std::string envelope);

  void append(std::string_view data);
  bool needs_flush() const;
  // Writes the buffered content (creating the file on first use) on the worker pool.
  asio::awaitable<void> flush();
  // Writes the rest and makes the message durable in every Maildir; the result says how it went.
  asio::awaitable<tl::expected<void, store::StoreError>> commit();
  // Drops the message (removes the temp file on the worker pool). Idempotent.
  void abort();

 private:
  struct Shared;
  std::shared_ptr<Shared> s_;
  asio::thread_pool& pool_;
  store::JournaledDelivery* journal_;
  bool discard_;
  bool done_ = false;
};

}  // namespace taube::net
