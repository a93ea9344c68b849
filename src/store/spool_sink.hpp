// RelaySpoolSink: mail for recipients routed to the outbound queue, kept durably in the queue
// directory until the queue delivers it. A small message goes into the queue's journal
// (QueueStore::file_journalled: one shared fdatasync, no file); a large one, or one the journal
// refuses, is written as the message and its queue envelope (src/queue/envelope.hpp), filed
// together by QueueStore::file (group-committed: one shared flush for all sessions committing at
// once; the envelope's name before the message's).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "queue/envelope.hpp"
#include "store/maildir_store.hpp"
#include "store/message_sink.hpp"
#include "store/queue_store.hpp"

namespace taube::store {

class RelaySpoolSink final : public MessageSink {
 public:
  // Called (on the committing worker thread) once an item is durable: the queue runner learns
  // of it at once (no polling of the directory), with its file name and envelope, and, for a
  // message of at most kKeepContent octets, its stored content (else null), so that the first
  // attempt need not read back what was just written.
  using Queued = std::function<void(const std::string& name, const queue::QueueEnvelope& env,
                                    std::shared_ptr<const std::string> content)>;
  static constexpr std::size_t kKeepContent = 256 * 1024;

  RelaySpoolSink(MaildirStore& store, QueueStore& queue) : store_(store), queue_(queue) {}
  // Before the first message.
  void on_queued(Queued q) { queued_ = std::move(q); }
  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;

  const std::string& directory() const { return queue_.directory(); }

 private:
  MaildirStore& store_;
  QueueStore& queue_;
  Queued queued_;
};

// The queue envelope of the recipients of `info` that are routed to the queue.
queue::QueueEnvelope queue_envelope_for(const MessageInfo& info);

}  // namespace taube::store
