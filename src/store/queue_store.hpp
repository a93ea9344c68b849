// QueueStore: the outbound queue's items on disk, as RelaySpoolSink files them (spool_sink.hpp):
//
//   <dir>/new/<name>          the message in stored form (LF line endings, trace headers on top)
//   <dir>/env/<name>          its queue envelope (queue/envelope.hpp), the item's state
//   <dir>/tmp/                files being written
//   <dir>/corrupt/<name>.env  envelopes that did not parse, moved aside with their message
//   <dir>/transcripts/<name>  the SMTP transcript of the item's last delivery attempt
//
// file() writes a new item: the envelope's and the message's content first, then one group flush
// (GroupSync: one syncfs shared by every session committing meanwhile), then their names (the
// envelope's before the message's), then a second shared flush; the 250 follows. So a name is
// never durable before its content, and an item is complete exactly when its message file
// exists: an envelope without one is what a crash between the two left of a message that was
// never acknowledged, and scan() removes it. Every state change replaces the
// envelope durably (write to tmp/, fsync, rename over env/<name>, fsync env/): after a power cut
// the item holds either the old state or the new one, never a mix (ARCHITECTURE.md practice 18:
// write the fact before acting on it). A finished item is removed message first, envelope only
// after a shared flush covered that (never a message without envelope, which would look like
// damage): a crash in between leaves an envelope without message, removed by the next scan.
//
// The fast path (queue_store_journal.cpp): with a journal open, a small message is filed as one
// record of the queue's own DeliveryJournal (<dir>/journal: one fdatasync shared by every session
// committing meanwhile, no file created) and the 250 follows; the item lives in memory and in
// that record. Most relayed mail is delivered within milliseconds: its remove() then only
// releases the record — no inode is ever created or freed for it, which is what the queue's
// files cost (bench/PROFILE.md, "Relay path"). An item still queued after a first attempt
// (update()), or still waiting after kJournalHold, is written out as the files above and its
// record released. Every released record gets a line in <dir>/journal.done.N (O_APPEND, not
// fsynced, like the in-flight log: it must survive kill -9, which the page cache does; two files
// used in turn), so that
// the records a crash leaves behind the journal's durable tail are told apart: a record with
// a line is finished (delivered, or filed as files), one without is filed again at start-up
// (open_journal()). After a power cut the lines may be lost with the releases: the item is
// filed and delivered again, the at-least-once window of remove() above.
//
// Blocking; every call runs on a worker thread. Calls for one item never overlap (the queue
// runner owns each item while it works on it); calls for different items may, and the journal's
// publisher thread writes out waiting items concurrently (an item it is writing is waited for).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "queue/envelope.hpp"
#include "store/delivery_journal.hpp"
#include "store/durable_file.hpp"
#include "store/fs.hpp"
#include "store/group_sync.hpp"
#include "store/inflight_log.hpp"
#include "store/maildir_store.hpp"
#include "store/store_error.hpp"

namespace taube::store {

struct QueueItem {
  std::string name;  // file name under new/ and env/
  queue::QueueEnvelope envelope;
  std::uint64_t size = 0;  // octets of the message file
};

// The first, fast half of a scan (survey()): the directories listed once, no file opened.
struct QueueSurvey {
  std::vector<std::string> names;  // complete items (message and envelope), sorted
  std::vector<std::string> corrupt;
  std::vector<std::string> incomplete;
};

// The second half, per item (load_item()).
struct LoadedItem {
  enum class Status { Ok, Corrupt, Error } status = Status::Error;
  std::string text;                 // the envelope file as read (Ok)
  queue::QueueEnvelope envelope;    // decoded (Ok)
  std::string problem;              // Corrupt: "NAME: line 3: ..." (moved to corrupt/)
  std::optional<StoreError> error;  // Error: the envelope could not be read or moved
};

struct QueueScan {
  std::vector<QueueItem> items;
  // One line per envelope that did not parse and was moved to corrupt/: "NAME: line 3: ...".
  std::vector<std::string> corrupt;
  // Envelopes without a message (a crash before the 250), removed.
  std::vector<std::string> incomplete;
};

// A queue message file opened for reading in pieces: a large message is streamed to the peer
// rather than read whole (a few concurrent 50 MB messages must not cost their size in RAM each).
class MessageFile {
 public:
  MessageFile(Fs& fs, int fd, std::uint64_t size) : fs_(&fs), fd_(fd), size_(size) {}
  MessageFile(MessageFile&& o) noexcept : fs_(o.fs_), fd_(o.fd_), size_(o.size_) { o.fd_ = -1; }
  MessageFile& operator=(MessageFile&&) = delete;
  MessageFile(const MessageFile&) = delete;
  ~MessageFile();
  std::uint64_t size() const { return size_; }
  // Up to `n` octets from `offset` (fewer only at the end of the file).
  tl::expected<std::string, StoreError> read(std::uint64_t offset, std::size_t n) const;

 private:
  Fs* fs_;
  int fd_;
  std::uint64_t size_;
};

// What open_journal() found.
struct JournalRecovery {
  std::size_t filed = 0;             // written out as queue files now
  std::size_t finished = 0;          // delivered or written out before the crash
  std::vector<std::string> rescued;  // records that were not queue items, kept in corrupt/
};

class QueueStore {
 public:
  // An item waits this long in the journal (for its first attempt to finish) before the
  // publisher writes it out as files.
  static constexpr std::chrono::milliseconds kJournalHold{2000};
  // Journalled items' content held in memory at most (beyond it, file() is used).
  static constexpr std::size_t kJournalBytes = 64 * 1024 * 1024;

  explicit QueueStore(std::string dir, Fs& fs = posix_fs());
  ~QueueStore();  // close_journal()
  QueueStore(const QueueStore&) = delete;
  QueueStore& operator=(const QueueStore&) = delete;

  const std::string& directory() const { return dir_; }
  std::string message_path(const std::string& name) const { return dir_ + "/new/" + name; }
  std::string envelope_path(const std::string& name) const { return dir_ + "/env/" + name; }
  std::string transcript_path(const std::string& name) const {
    return dir_ + "/transcripts/" + name;
  }

  // Creates the directories (durably) where missing.
  tl::expected<void, StoreError> ensure();
  // Files a new item (see the class comment): `msg` is the message written into this queue's
  // tmp/ (MaildirStore::begin({directory()})), not yet synced; `envelope` its encoded envelope.
  // On success both are durable under the message's unique name and `msg` is consumed; on
  // failure nothing is left under a final name (the caller aborts `msg`).
  tl::expected<void, StoreError> file(MaildirStore::Message& msg, std::string_view envelope);
  // Start-up: every complete item, with the clean-up described above. Files in tmp/ are removed
  // (nothing can be in flight before the server starts), and so are transcripts of items that
  // are gone (a power cut can bring back one that remove() had unlinked).
  tl::expected<QueueScan, StoreError> scan();
  // scan() in two halves, for a start-up that serves before every envelope is read. survey()
  // does the clean-up above from directory listings alone (readdir once per directory, no stat
  // or open per item) and names the complete items; load_item() then reads and decodes one of
  // them, moving it to corrupt/ if its envelope does not parse. Only for items of the survey,
  // which nothing else touches until they are loaded: an item filed after the survey is not in
  // it, and survey() must not run while file() can (it would take a half-filed item for an
  // incomplete one).
  tl::expected<QueueSurvey, StoreError> survey();
  LoadedItem load_item(const std::string& name);
  // The item's envelope, read again (after a scan, the runner keeps envelopes in memory; this
  // is for tools and tests).
  tl::expected<queue::QueueEnvelope, std::string> load(const std::string& name);
  // The message, whole or its first `limit` octets (a DSN returns at most so much).
  tl::expected<std::string, StoreError> read_message(const std::string& name,
                                                     std::size_t limit = SIZE_MAX);
  // The message file opened for streaming when it is larger than `threshold` octets; nothing
  // when it is not (read_message() then), or when the item is in the journal (always small).
  tl::expected<std::optional<MessageFile>, StoreError> open_large_message(const std::string& name,
                                                                          std::uint64_t threshold);
  // Replaces the envelope durably (see the class comment).
  tl::expected<void, StoreError> update(const std::string& name, const queue::QueueEnvelope& env);
  // Removes a finished item: its message and transcript now, its envelope once a shared flush
  // made the message's removal durable (see tidy()). Does not wait for a flush.
  tl::expected<void, StoreError> remove(const std::string& name);
  // Unlinks the envelopes of removed items whose removal is durable; with `flush`, first runs a
  // flush if any wait (the runner calls this shortly after its last removal, so that a quiet
  // queue is left empty on disk). Returns how many envelopes are still waiting.
  std::size_t tidy(bool flush);
  // Keeps the transcripts of the last attempts (queue/transcript_log.hpp composes the file). Not fsynced: it is information for the operator,
  // and losing the last one in a power cut loses no mail.
  void save_transcript(const std::string& name, std::string_view text);
  std::string read_transcript(const std::string& name);

  // The "end of data sent" marks of attempts in flight (inflight_log.hpp).
  InflightLog& inflight() { return inflight_; }

  // The journal (see the class comment). Start-up, before survey(): opens (creating it, `size`
  // bytes) <dir>/journal, files what a crash left in it and starts the publisher. Without a
  // journal (never opened, or it failed) every item takes file().
  tl::expected<JournalRecovery, StoreError> open_journal(std::uint64_t size);
  // Files a new item through the journal. True: durable, the 250 may go. False: the journal
  // cannot take it (none, too large, full, failed): the caller files it with file().
  bool file_journalled(const std::string& name, std::string_view envelope,
                       std::shared_ptr<const std::string> content);
  // Writes out every waiting item and stops the publisher (shutdown, after the runner stopped).
  void close_journal();
  // Items in the journal only, not yet written out (tests, shutdown logs).
  std::size_t journalled() const;
  // For the metrics: the journal's group commits (nothing without a journal), and the shared
  // flushes of items filed as files (file(), update()).
  std::optional<CommitStats::Snapshot> journal_commits() const;
  CommitStats::Snapshot file_commits() const { return sync_.commit_stats().snapshot(); }
  // For tests: stops the publisher as a crash would (nothing written out, nothing released);
  // the journal then refuses new items.
  void abandon_journal();
  // For tests: how long an item waits before the publisher writes it out.
  void set_journal_hold(std::chrono::milliseconds hold) { hold_ = hold; }
  // Warnings of the publisher (a failed write-out, retried); the default drops them.
  void set_logger(std::function<void(const std::string&)> log) { log_ = std::move(log); }

 private:
  struct Journalled {
    std::uint64_t seq = 0;
    std::string envelope;  // encoded
    std::shared_ptr<const std::string> content;
    std::chrono::steady_clock::time_point since;
    bool writing = false;  // the publisher is writing it out
  };
  // An item written out (or to be): its content, its envelope, and the record it came from.
  struct Outgoing {
    std::string name;
    Journalled item;
    std::optional<DurableFile> msg, env;
    bool linked = false;
  };

  tl::expected<void, StoreError> move_corrupt(const std::string& name);
  // The names of an item whose two files are written (not synced): the file() protocol from
  // its first flush on.
  tl::expected<void, StoreError> link_item(DurableFile& msg, const std::string& name,
                                           std::string_view envelope);
  // Journal side (queue_store_journal.cpp).
  std::optional<Journalled> claim(const std::string& name);
  // Writes the batch's files and flushes twice (linked: which made it); write_out() then
  // releases the records of those.
  void write_files(std::vector<Outgoing>& batch);
  void write_out(std::vector<Outgoing>& batch);
  std::string done_path(int file) const;
  void finished(const std::vector<std::pair<std::uint64_t, std::string>>& records);
  void publisher();
  void persist_journal();
  void warn(const std::string& what) const;

  std::string dir_;
  Fs& fs_;
  GroupSync sync_;
  InflightLog inflight_;
  // Envelopes of removed items, each with the flush epoch after its message's unlink.
  std::mutex removed_mu_;
  std::deque<std::pair<std::uint64_t, std::string>> removed_;
  std::once_flag ensured_;  // file() creates the directories once (tests file without scan())

  // The journal and its items (queue_store_journal.cpp).
  std::unique_ptr<DeliveryJournal> journal_;
  std::function<void(const std::string&)> log_;
  std::chrono::milliseconds hold_ = kJournalHold;
  mutable std::mutex jmu_;
  std::condition_variable jcv_;
  std::unordered_map<std::string, Journalled> journalled_;
  std::deque<std::string> jorder_;  // names in filing order (some already gone)
  std::size_t journalled_bytes_ = 0;
  bool jstop_ = false;
  bool abandoned_ = false;
  bool released_ = false;  // records released since the journal's header was last written
  std::thread publisher_;
  // <dir>/journal.done.0 and .1 (see the class comment), used in turn: the other file is
  // emptied and written to once the current one holds kDoneRotate octets and the journal's
  // durable tail has passed every record the other names.
  static constexpr std::uint64_t kDoneRotate = 1 << 20;
  std::mutex done_mu_;
  int done_fd_[2] = {-1, -1};
  std::uint64_t done_size_[2] = {0, 0};
  std::uint64_t done_max_[2] = {0, 0};
  int done_current_ = 0;
};

}  // namespace taube::store
