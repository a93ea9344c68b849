// InflightLog: the queue's record of deliveries whose data is on its way (queue/inflight.hpp),
// two append-only files <queue>/inflight.0 and inflight.1. A mark is one write(2) with O_APPEND
// before the data goes out; it is not fsynced: it has to survive the crash of the process
// (kill -9, a failed assertion), which the page cache does, not a power cut, after which the
// queue's own at-least-once window applies anyway (docs/robustness.md). Marks are never
// removed one by one: whether an attempt's result was recorded is read from the item's envelope
// at the next start (queue::unrecorded). A file is emptied and reused once every attempt it
// marked has been recorded, so the log stays small.
//
// Not thread safe: the queue runner calls it on the event loop thread (a short append to the
// page cache, like a log line).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "queue/inflight.hpp"
#include "store/fs.hpp"

namespace taube::store {

class InflightLog {
 public:
  // A file is switched away from once it holds this much.
  static constexpr std::uint64_t kRotateBytes = 1 << 20;

  explicit InflightLog(std::string dir, Fs& fs = posix_fs());
  ~InflightLog();
  InflightLog(const InflightLog&) = delete;
  InflightLog& operator=(const InflightLog&) = delete;

  // Start-up: the marks the previous run left (both files), which are then emptied. After the
  // queue directory exists.
  std::vector<queue::InflightMark> recover();

  // Before the data of an attempt goes out. Returns a ticket for recorded(), or -1 when the mark
  // could not be written (the delivery goes ahead: the mark only improves what is logged).
  int mark(const queue::InflightMark& m);
  // The attempt's result is in the envelope (or the item is gone).
  void recorded(int ticket);

  // For tests: how many marks wait for their result, per file.
  std::uint32_t outstanding(int file) const { return outstanding_[file & 1]; }

 private:
  bool open_file(int file, bool truncate);
  std::string path(int file) const { return dir_ + "/inflight." + std::to_string(file); }

  std::string dir_;
  Fs& fs_;
  int fd_[2] = {-1, -1};
  std::uint64_t size_[2] = {0, 0};
  std::uint32_t outstanding_[2] = {0, 0};
  int current_ = 0;
};

}  // namespace taube::store
