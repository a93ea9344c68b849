// DeliveryHistory: the bounded on-disk history of finished deliveries (one DeliveryRecord per
// recipient that was sent, bounced, expired or deleted by an operator), for the web console's
// Deliveries view (docs/console.md "Deliveries"). It lives in the queue directory:
//
//   <queue>/history/0000000000000001.jsonl   segments of records, one JSON line each, in order
//   <queue>/history/attempts/<queue file>    the attempts so far of an item still queued
//
// Append-only. A record is one write() of whole lines with O_APPEND onto the newest segment; a
// segment full (a tenth of the cap) starts the next one, and when the segments together exceed
// the cap the oldest is unlinked (so the history holds between nine tenths of the cap and the
// cap). Nothing is fsynced: this is a history for the operator, not mail, and losing the last
// records in a power cut loses no message (the queue's own files are durable). A crash may
// leave the last line of the newest segment torn: readers skip a line that does not parse, and
// open() ends such a tail with a newline so that the next record does not join it. Older
// records are never rewritten, so they cannot be damaged by a later crash.
//
// The attempts file of a queued item grows by one line per attempt (the same one-write rule)
// and is read once when a recipient finishes, then removed with the item; files left behind
// (a crash between the record and the removal) are swept at start-up by age.
//
// Blocking; every call runs on a worker thread. Appends and searches may run concurrently from
// several threads (one mutex for the segment list; readers read a segment up to the size it had
// when they looked, which ends on a line boundary).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "store/delivery_record.hpp"
#include "store/fs.hpp"

namespace taube::store {

class DeliveryHistory {
 public:
  // `dir` is <queue>/history; `max_bytes` the cap of the segments together (> 0).
  DeliveryHistory(std::string dir, std::uint64_t max_bytes, Fs& fs = posix_fs());
  ~DeliveryHistory();
  DeliveryHistory(const DeliveryHistory&) = delete;
  DeliveryHistory& operator=(const DeliveryHistory&) = delete;

  // Creates the directories, finds the segments (dropping the oldest beyond the cap, which may
  // have been lowered), and removes attempts files last written before `stale_before` (unix
  // seconds; 0: none). An error only when the directory cannot be made.
  tl::expected<void, std::string> open(std::int64_t stale_before = 0);

  // Appends the records (one write). False when the write failed (the caller logs it once).
  bool append(const std::vector<DeliveryRecord>& records);

  // A queued item's attempts (see the class comment); `name` is its queue file name.
  bool add_attempts(const std::string& name, const std::vector<IndexedAttempt>& attempts);
  std::vector<IndexedAttempt> attempts_of(const std::string& name);
  void forget_attempts(const std::string& name);

  // A position in the history: the records before it are older. Shown to clients as
  // "SEGMENT.OFFSET" (cursor_text); parse_cursor() rejects anything else.
  struct Cursor {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    friend bool operator==(const Cursor&, const Cursor&) = default;
  };
  static std::string cursor_text(const Cursor& c);
  static std::optional<Cursor> parse_cursor(std::string_view s);

  struct Page {
    std::vector<DeliveryRecord> records;  // newest first
    std::optional<Cursor> next;           // where the following page starts; none: no more
  };
  // The newest `limit` records matching `q`, older than `before` if given.
  Page search(const RecordQuery& q, std::size_t limit, std::optional<Cursor> before = {});

  // The segments' total size and count now (tests, the console).
  std::uint64_t bytes() const;
  std::size_t segments() const;
  std::uint64_t max_bytes() const { return max_bytes_; }

 private:
  struct Segment {
    std::uint64_t seq = 0;
    std::uint64_t size = 0;
  };
  std::string segment_path(std::uint64_t seq) const;
  std::string attempts_path(const std::string& name) const;
  bool write_all(int fd, std::string_view data);
  std::string read_prefix(const std::string& path, std::uint64_t size);
  void drop_over_cap();  // with mu_ held

  const std::string dir_;
  const std::uint64_t max_bytes_;
  const std::uint64_t segment_max_;
  Fs& fs_;
  mutable std::mutex mu_;
  std::deque<Segment> segments_;  // oldest first; the last one is written to
  std::uint64_t total_ = 0;
  int fd_ = -1;  // the newest segment, O_APPEND
};

}  // namespace taube::store
