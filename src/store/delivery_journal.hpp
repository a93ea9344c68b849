// DeliveryJournal: a write-ahead log of accepted messages, so that a 250 can be given once the
// message is durable in one sequential file (one write + fdatasync for every message that arrived
// meanwhile: group commit) instead of after the fsyncs of its own Maildir file and directory.
// The Maildir files are made durable later, many at a time (JournaledDelivery); a record is
// released once its message is durable in every Maildir. After a crash, the records not yet
// released are delivered again at start-up (recognised by their Maildir unique name if they did
// arrive). This is what a database's WAL does, and what Postfix's queue file is to its delivery.
//
// On disk: a file of fixed size, zero-filled when created (so that overwriting it needs no
// metadata update: fdatasync writes the data and flushes). Two 512-byte header slots at 0 and
// 512 hold where the live records start (offset and sequence number), written alternately with a
// counter; the one with the valid checksum and the higher counter wins. Records follow from 4096
// as a ring: a record that does not fit before the end starts again at 4096. Each record carries
// its sequence number and a CRC-32; reading stops at the first record that is not the expected
// next one, so a torn write, a stale record of an earlier lap or zeroes all end the log.
// Record payload formats (the header's fifth word): 0, the first version (Maildir directories
// only), still read; 1, typed destinations (JournalDestination), written since.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "store/commit_stats.hpp"
#include "store/fs.hpp"
#include "store/store_error.hpp"

namespace taube::store {

// Where a journalled message goes. Typed, so that other kinds of destination (the outbound
// queue) can share the journal's group commit; a reader that meets a kind it does not know
// keeps the record (rescue) rather than guessing.
struct JournalDestination {
  // Queue: an outbound queue item (QueueStore's journal, a journal file of its own); the
  // record's unique is the item's name and `target` its encoded queue envelope.
  enum class Kind : std::uint8_t { Maildir = 1, Queue = 2 };
  Kind kind = Kind::Maildir;
  std::string target;  // Maildir: the Maildir directory; Queue: the envelope (< 64 KiB)
  friend bool operator==(const JournalDestination&, const JournalDestination&) = default;
};

struct JournalRecord {
  std::uint64_t seq = 0;
  std::string unique;  // the unique name of the message (its Maildir file name)
  std::vector<JournalDestination> destinations;
  std::string content;  // the file's bytes
  // The Maildir directories among the destinations.
  std::vector<std::string> maildirs() const;
  // True when every destination is a Maildir (what JournaledDelivery delivers).
  bool all_known() const;
};

std::vector<JournalDestination> maildir_destinations(const std::vector<std::string>& dirs);

// Why append() did not take a record. The caller then delivers the message the direct way.
enum class JournalRefusal {
  TooLarge,  // larger than max_record()
  Full,      // not enough room until older records are released
  Failed,    // a write or fdatasync failed (now or earlier): the journal takes nothing more
};

class DeliveryJournal {
 public:
  static constexpr std::uint64_t kDataStart = 4096;
  static constexpr std::uint64_t kMinSize = 1 << 20;

  // Opens `path`, creating it (zero-filled to `size` bytes, fsynced with its directory) when
  // missing; an existing journal keeps its size. Reads the records left unreleased by the
  // previous run: take_recovered() hands them out.
  static tl::expected<std::unique_ptr<DeliveryJournal>, StoreError> open(Fs& fs,
                                                                         const std::string& path,
                                                                         std::uint64_t size);
  ~DeliveryJournal();
  DeliveryJournal(const DeliveryJournal&) = delete;
  DeliveryJournal& operator=(const DeliveryJournal&) = delete;

  std::vector<JournalRecord> take_recovered() { return std::move(recovered_); }

  // After the recovered records were delivered: empties the journal (durably) and starts
  // numbering far beyond anything on disk, so no stale record can ever look like a new one.
  // A journal that existed before open() refuses appends until then.
  tl::expected<void, StoreError> reset();

  // Blocking; thread safe. Returns the record's sequence number once it is durable. Records of
  // concurrent callers are written and fdatasynced together.
  tl::expected<std::uint64_t, JournalRefusal> append(
      std::string_view unique, const std::vector<JournalDestination>& destinations,
      std::string_view content);
  // The same for Maildir destinations only.
  tl::expected<std::uint64_t, JournalRefusal> append(std::string_view unique,
                                                     const std::vector<std::string>& maildirs,
                                                     std::string_view content) {
    return append(unique, maildir_destinations(maildirs), content);
  }

  // The message of record `seq` is durable in its Maildirs. The space of released records is
  // reused once every older record is released too and the header saying so is durable, which
  // persist() does (when it is worth it, or when `force`).
  void release(std::uint64_t seq);
  tl::expected<void, StoreError> persist(bool force);

  // Reads back an unreleased record (to deliver it again after a failed attempt).
  tl::expected<JournalRecord, StoreError> read(std::uint64_t seq);

  // Records from this sequence number on are read back after a crash (the durable header's
  // tail): a released record below it can never come back.
  std::uint64_t durable_tail_seq() const;

  std::size_t max_record() const { return static_cast<std::size_t>((size_ - kDataStart) / 4); }
  std::uint64_t size() const { return size_; }
  std::size_t unreleased() const;
  // The group commits so far (one per fdatasync of appended records), for the metrics.
  const CommitStats& commit_stats() const { return stats_; }

 private:
  DeliveryJournal(Fs& fs, int fd, std::uint64_t size) : fs_(fs), fd_(fd), size_(size) {}
  tl::expected<void, StoreError> load();
  tl::expected<void, StoreError> write_header(std::uint64_t off, std::uint64_t seq);
  // Where a record of `len` bytes goes, or nothing if it does not fit before the durable tail.
  bool place(std::uint64_t len, std::uint64_t& at) const;

  struct Segment {
    std::uint64_t offset;
    std::string bytes;
  };

  Fs& fs_;
  int fd_;
  std::uint64_t size_;
  std::vector<JournalRecord> recovered_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t head_off_ = kDataStart;  // where the next record goes
  std::uint64_t next_seq_ = 1;
  std::uint64_t durable_seq_ = 0;  // every record up to this one is durable (or failed)
  bool writing_ = false;           // a leader is writing a batch
  bool failed_ = false;
  bool needs_reset_ = false;                // reopened: append() waits for reset()
  std::uint64_t failed_from_ = UINT64_MAX;  // the first record whose write failed
  std::vector<Segment> pending_;            // records waiting for the next write
  // Records not yet released (written or pending): seq -> offset. The tail is the first one.
  std::map<std::uint64_t, std::uint64_t> live_;
  std::uint64_t disk_tail_off_ = kDataStart;  // the tail the durable header names
  std::uint64_t disk_tail_seq_ = 1;
  std::uint64_t header_counter_ = 0;
  std::mutex header_mu_;  // one header write at a time
  CommitStats stats_;
};

}  // namespace taube::store
