// MessageSink: where an accepted message goes. The I/O layer starts a message when its content
// begins, appends the content as it arrives, and commits it at the end of data; the sink makes it
// durable (Maildir, the outbound queue, ...) or reports why not, per recipient. Every sink call
// but append() may block on the disk and runs on a worker thread; the calls of one message never
// overlap.
//
// The header prefix: trace and authentication headers (Return-Path, Received, later
// Authentication-Results, DKIM-Signature) are not part of the content stream but handed to
// commit(), so a header known only at the end of data can still go on top. A sink that must
// stream a large message to disk before the end writes the provisional prefix given to begin()
// first, and rewrites the file in the rare case commit() brings a different one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/wire/envelope.hpp"
#include "store/store_error.hpp"

namespace taube::store {

// What a sink may want to know about the message besides its content.
struct MessageInfo {
  std::string queue_id;
  std::int64_t arrival = 0;  // unix seconds
  smtp::Envelope envelope;   // recipients with their destinations, as policy decided
  std::string auth_user;     // the authenticated submitter, if any
  std::string client_address, client_helo;
  // The reverse-path of the queued copies when policy rewrote it (SRS for forwarded mail,
  // policy::RecipientPolicy::queue_sender); unset: envelope.sender.
  std::optional<smtp::Path> queue_sender;
};

// The result of a commit: one outcome for the message, or one per recipient (in the order of
// MessageInfo::envelope.recipients) when a sink fanned out and parts failed.
struct CommitOutcome {
  std::optional<StoreError> error;
  std::vector<std::optional<StoreError>> per_recipient;  // empty: `error` for every recipient

  bool ok() const;
  std::optional<StoreError> for_recipient(std::size_t i) const;
  // The outcome of the message as a whole (SMTP has one reply): the first error, if any.
  std::optional<StoreError> first_error() const;
};

class MessageWriter {
 public:
  // Content beyond this stays in memory no longer: the I/O layer calls flush().
  static constexpr std::size_t kFlushThreshold = 128 * 1024;

  virtual ~MessageWriter() = default;
  MessageWriter() = default;
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  // Content octets in the store's form (LF line endings). Cheap: memory only.
  void append(std::string_view data) { buffer_.append(data); }
  bool needs_flush() const { return buffer_.size() >= kFlushThreshold; }

  // Blocking. Writes what append() collected. A failure is kept and reported by commit(); the
  // rest of the message is still accepted (the session must read to the end of data).
  virtual void flush() = 0;
  // Blocking. Makes the message durable with `prefix` on top. Afterwards the writer is spent.
  virtual CommitOutcome commit(std::string_view prefix) = 0;
  // Blocking. Drops the message, leaving nothing behind. Idempotent; also after commit().
  virtual void abort() = 0;

 protected:
  std::string buffer_;  // appended, not yet flushed
};

class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Starts a message. Cheap (no disk access); errors surface at flush()/commit().
  virtual std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                               std::string provisional_prefix) = 0;
};

// Accepts every message and keeps nothing (protocol-only mode, benchmarks).
class NullSink final : public MessageSink {
 public:
  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;
};

// Sends each recipient's destinations to the sink for their route: local Maildirs and the
// outbound queue. A message with both goes to both; when one part fails the other is aborted
// if it was not committed yet, and the outcome says which recipients failed. (A part already
// committed stays: SMTP delivery is at-least-once, RFC 5321 §6.1.)
class RoutingSink final : public MessageSink {
 public:
  RoutingSink(MessageSink& mailbox, MessageSink* queue) : mailbox_(mailbox), queue_(queue) {}
  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;

 private:
  MessageSink& mailbox_;
  MessageSink* queue_;  // null: recipients routed to the queue fail (StoreError::Io)
};

}  // namespace taube::store
