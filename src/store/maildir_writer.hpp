// MaildirWriter: one message on its way into Maildir directories, the MessageWriter behind the
// Maildir sink and the relay spool. Content stays in memory until it passes the flush threshold;
// then it streams into an anonymous temp file, headed by the provisional prefix. At commit a
// message still in memory is written whole (prefix + content) and offered to the delivery
// journal (a 250 once it is durable there, new/ follows in batches); otherwise, or when the
// journal refuses, it is fsynced and linked into every new/ before commit() returns. A prefix
// that differs from the provisional one makes a streamed message be copied once into a new file
// (the rare case of a header computed at the end of data on a large message).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "store/journaled_delivery.hpp"
#include "store/maildir_store.hpp"
#include "store/message_sink.hpp"

namespace taube::store {

class MaildirWriter final : public MessageWriter {
 public:
  // Publishes the complete message instead of MaildirStore::commit (the relay spool files it
  // with its envelope: QueueStore::file). On failure it leaves nothing under a final name.
  using Publish = std::function<tl::expected<void, StoreError>(MaildirStore::Message&)>;

  // `journal` may be null (direct delivery only).
  MaildirWriter(MaildirStore& store, std::vector<std::string> maildirs, JournaledDelivery* journal,
                std::string provisional_prefix, Publish publish = {});
  ~MaildirWriter() override;

  void flush() override;
  CommitOutcome commit(std::string_view prefix) override;
  void abort() override;

 private:
  tl::expected<void, StoreError> start(std::string_view head);
  tl::expected<void, StoreError> rewrite_with(std::string_view prefix);
  tl::expected<void, StoreError> publish();

  MaildirStore& store_;
  std::vector<std::string> maildirs_;
  JournaledDelivery* journal_;
  std::string provisional_;
  Publish publish_;
  std::optional<MaildirStore::Message> msg_;
  std::optional<StoreError> error_;
  bool done_ = false;
};

// The Maildir sink: the recipients' Mailbox destinations are Maildir directories.
class MaildirSink final : public MessageSink {
 public:
  MaildirSink(MaildirStore& store, JournaledDelivery* journal) : store_(store), journal_(journal) {}
  // The journal opens after the sink exists (it first delivers what a crash left): before the
  // first message.
  void set_journal(JournaledDelivery* journal) { journal_ = journal; }
  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;

 private:
  MaildirStore& store_;
  JournaledDelivery* journal_;
};

}  // namespace taube::store
