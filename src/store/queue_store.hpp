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
// Blocking; every call runs on a worker thread. Calls for one item never overlap (the queue
// runner owns each item while it works on it); calls for different items may.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "queue/envelope.hpp"
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

class QueueStore {
 public:
  explicit QueueStore(std::string dir, Fs& fs = posix_fs());

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
  // The whole message file.
  tl::expected<std::string, StoreError> read_message(const std::string& name);
  // Replaces the envelope durably (see the class comment).
  tl::expected<void, StoreError> update(const std::string& name, const queue::QueueEnvelope& env);
  // Removes a finished item: its message and transcript now, its envelope once a shared flush
  // made the message's removal durable (see tidy()). Does not wait for a flush.
  tl::expected<void, StoreError> remove(const std::string& name);
  // Unlinks the envelopes of removed items whose removal is durable; with `flush`, first runs a
  // flush if any wait (the runner calls this shortly after its last removal, so that a quiet
  // queue is left empty on disk). Returns how many envelopes are still waiting.
  std::size_t tidy(bool flush);
  // Keeps the transcript of the last attempt. Not fsynced: it is information for the operator,
  // and losing the last one in a power cut loses no mail.
  void save_transcript(const std::string& name, std::string_view text);
  std::string read_transcript(const std::string& name);

  // The "end of data sent" marks of attempts in flight (inflight_log.hpp).
  InflightLog& inflight() { return inflight_; }

 private:
  tl::expected<void, StoreError> move_corrupt(const std::string& name);

  std::string dir_;
  Fs& fs_;
  GroupSync sync_;
  InflightLog inflight_;
  // Envelopes of removed items, each with the flush epoch after its message's unlink.
  std::mutex removed_mu_;
  std::deque<std::pair<std::uint64_t, std::string>> removed_;
  std::once_flag ensured_;  // file() creates the directories once (tests file without scan())
};

}  // namespace taube::store
