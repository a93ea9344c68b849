// CommitStats: what a group commit did (the delivery journal's and the queue journal's
// fdatasync, GroupSync's syncfs), counted where it happens, on worker threads, and read by the
// app's metrics when scraped: the store depends on nothing above it, so it keeps the numbers and
// others copy them out. Lock-free (relaxed atomics): a snapshot taken while a commit is counted
// may be one commit behind in some fields, never torn within one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace taube::store {

class CommitStats {
 public:
  // Upper bounds of the batch-size buckets: how many records (messages, callers) one flush
  // covered. Powers of two to 1024; larger batches land in the +Inf bucket.
  static constexpr std::array<std::uint64_t, 11> kBatchBounds = {1,  2,   4,   8,   16,  32,
                                                                 64, 128, 256, 512, 1024};
  struct Snapshot {
    std::uint64_t commits = 0;   // flushes that succeeded
    std::uint64_t failures = 0;  // flushes that failed
    std::uint64_t records = 0;   // records covered by the successful ones (the histogram's sum)
    // Successful flushes by batch size, per bucket (not cumulative); +Inf last.
    std::array<std::uint64_t, kBatchBounds.size() + 1> buckets{};
  };

  // One flush of `records` records ended (`ok`: it succeeded).
  void committed(std::uint64_t records, bool ok) {
    if (!ok) {
      failures_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::size_t i = 0;
    while (i < kBatchBounds.size() && records > kBatchBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    records_.fetch_add(records, std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
  }

  Snapshot snapshot() const {
    Snapshot s;
    for (std::size_t i = 0; i < buckets_.size(); ++i)
      s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.records = records_.load(std::memory_order_relaxed);
    s.commits = commits_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBatchBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> commits_{0}, failures_{0}, records_{0};
};

}  // namespace taube::store
