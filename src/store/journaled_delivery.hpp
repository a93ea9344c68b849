// JournaledDelivery: durable Maildir delivery through the DeliveryJournal. A worker thread writes
// the message into an anonymous temp file (no fsync), appends it to the journal (one fdatasync
// shared with every message committed meanwhile) and may then answer 250: the message survives
// a power cut in the journal. A publisher thread makes the temp files durable a batch at a time —
// syncfs() once per file system instead of an fsync per file —, links them into new/, makes the
// new names durable (syncfs again) and releases their journal records. Nothing appears in new/
// before its content is durable, as with the direct path (MaildirStore::commit).
//
// After a crash, recover() delivers every unreleased record whose unique name is not already in
// its Maildir. A message whose client got no 250 may then be delivered although the client will
// send it again: a duplicate rather than a loss, as RFC 5321 §6.1 prefers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tl/expected.hpp>

#include "store/delivery_journal.hpp"
#include "store/maildir_store.hpp"

namespace taube::store {

class JournaledDelivery {
 public:
  // Messages accepted but not yet in their Maildirs hold a descriptor each; beyond this many the
  // journal refuses (the caller delivers directly), which also bounds the publisher's batches.
  static constexpr std::size_t kMaxOutstanding = 4096;
  // A lower bound for a process with few descriptors (set before start()).
  void set_max_outstanding(std::size_t n) { max_outstanding_ = n; }

  JournaledDelivery(MaildirStore& store, std::unique_ptr<DeliveryJournal> journal,
                    Fs& fs = posix_fs());
  ~JournaledDelivery();  // stop()
  JournaledDelivery(const JournaledDelivery&) = delete;
  JournaledDelivery& operator=(const JournaledDelivery&) = delete;

  // Warnings (failed publishing, retries) go here; the default drops them.
  void set_logger(std::function<void(const std::string&)> log) { log_ = std::move(log); }

  struct Recovery {
    std::size_t delivered = 0;  // written into their Maildirs now
    std::size_t present = 0;    // had arrived before the crash
    std::size_t rescued = 0;    // undeliverable now, kept in `rescue_dir` for the administrator
  };
  // Start-up, before start(): delivers the records the journal still holds (the direct, fsynced
  // way), then empties the journal. A message that cannot be delivered is kept as a file in
  // `rescue_dir` (and logged) rather than lost; failing that, an error (do not start).
  tl::expected<Recovery, StoreError> recover(const std::string& rescue_dir);

  void start();

  // Blocking: runs on a worker thread. `msg` holds exactly `content`, written but not synced.
  // True: the message is durable in the journal and `msg` was taken over (reset). False: the
  // journal could not take it (too large, full, failed); `msg` is untouched and the caller
  // commits it the direct way.
  bool accept(std::optional<MaildirStore::Message>& msg, std::string_view content);

  // Publishes everything accepted, then stops the publisher. Idempotent.
  void stop();

  // Accepted messages not yet published (for tests and shutdown logs).
  std::size_t outstanding() const;
  // The journal's group commits, for the metrics.
  const CommitStats& commit_stats() const { return journal_->commit_stats(); }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    std::optional<MaildirStore::Message> msg;  // empty: to be delivered again from the journal
    dev_t dev = 0;
    std::vector<std::string> created;  // final names, once linked
    std::chrono::steady_clock::time_point retry_at{};
  };

  void run();
  void publish(std::vector<Entry>& batch);
  bool make_names_durable(std::vector<Entry*>& linked);
  bool redeliver(Entry& e);
  bool deliverable(const std::vector<std::string>& maildirs);
  void warn(const std::string& what) const;

  MaildirStore& store_;
  std::unique_ptr<DeliveryJournal> journal_;
  Fs& fs_;
  std::function<void(const std::string&)> log_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> queue_;
  std::vector<Entry> retry_;  // publisher thread only
  std::size_t outstanding_ = 0;
  std::size_t max_outstanding_ = kMaxOutstanding;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace taube::store
