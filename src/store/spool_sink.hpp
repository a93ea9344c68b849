// RelaySpoolSink: mail for recipients routed to the outbound queue, kept durably in a spool
// directory until the queue delivers it: <spool>/new/<name> holds the message (Maildir-style
// write-then-link), <spool>/env/<name> its queue envelope (src/queue/envelope.hpp), written and
// fsynced before the message is published, so a reader never sees a message without envelope.
#pragma once

#include <functional>
#include <string>

#include "queue/envelope.hpp"
#include "store/maildir_store.hpp"
#include "store/message_sink.hpp"

namespace taube::store {

class RelaySpoolSink final : public MessageSink {
 public:
  // Called (on the committing worker thread) once an item is durable: the queue runner learns
  // of it at once (no polling of the directory), with its file name and envelope.
  using Queued = std::function<void(const std::string& name, const queue::QueueEnvelope& env)>;

  RelaySpoolSink(MaildirStore& store, std::string spool_dir, Fs& fs = posix_fs())
      : store_(store), dir_(std::move(spool_dir)), fs_(fs) {}
  // Before the first message.
  void on_queued(Queued q) { queued_ = std::move(q); }
  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;

  const std::string& directory() const { return dir_; }

 private:
  MaildirStore& store_;
  std::string dir_;
  Fs& fs_;
  Queued queued_;
};

// The queue envelope of the recipients of `info` that are routed to the queue.
queue::QueueEnvelope queue_envelope_for(const MessageInfo& info);

}  // namespace taube::store
