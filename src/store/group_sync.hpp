// GroupSync: group commit for files on one file system without a journal. Callers that have
// written files (not fsynced) call sync(); it returns once one syncfs() that started after the
// call has completed, so every caller that arrives while a flush is running shares the next
// one: N concurrent callers cost about two flushes, not N. This is what the outbound queue's
// 250 waits for (QueueStore::file), instead of an fsync per file and per directory.
//
// syncfs(2) makes the file system's data and metadata durable (since Linux 5.8 it also reports
// write-back errors); the fsync of the directory descriptor that follows issues the cache flush
// that ext4 without a journal leaves out of syncfs (the same pair as the delivery journal's
// publisher, journaled_delivery.cpp). Blocking: runs on worker threads. Thread safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <tl/expected.hpp>

#include "store/commit_stats.hpp"
#include "store/fs.hpp"
#include "store/store_error.hpp"

namespace taube::store {

class GroupSync {
 public:
  // `dir`: any directory on the file system to flush (opened at the first sync).
  GroupSync(Fs& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // Everything the caller wrote before calling is durable when this returns a value.
  tl::expected<void, StoreError> sync();

  // Flushes done so far (for tests and metrics).
  std::uint64_t flushes() const;
  // Every flush with the number of callers it served (its batch size), for the metrics.
  const CommitStats& commit_stats() const { return stats_; }

  // For changes that need not wait for a flush, only be covered by one before something else
  // happens (QueueStore::remove): the number of flushes started so far, taken after the change;
  // durable_since(e) is true once a flush that started later has succeeded.
  std::uint64_t epoch() const;
  bool durable_since(std::uint64_t epoch) const;

 private:
  // One flush and the callers it serves. At most one round runs and one waits at a time.
  // Each round has its own condition variable, so that the end of a flush wakes its callers
  // and one caller of the waiting round (its leader), not every thread that waits.
  struct Round {
    bool done = false;
    std::uint64_t callers = 0;
    tl::expected<void, StoreError> result;
    std::condition_variable cv;
  };
  tl::expected<void, StoreError> flush();

  Fs& fs_;
  std::string dir_;
  mutable std::mutex mu_;
  std::shared_ptr<Round> next_;  // the round new callers join; starts when the running one ends
  bool running_ = false;
  int fd_ = -1;  // the directory, opened by the first flush (under the running round)
  std::uint64_t flushes_ = 0;
  std::uint64_t started_ = 0;  // flushes started (each leader numbers its own)
  std::uint64_t durable_ = 0;  // the number of the last flush that succeeded
  CommitStats stats_;
};

}  // namespace taube::store
