#include "store/group_sync.hpp"

#include <fcntl.h>

#include <cerrno>

#include "store/durable_file.hpp"

namespace taube::store {

GroupSync::~GroupSync() {
  if (fd_ >= 0) fs_.close(fd_);
}

std::uint64_t GroupSync::flushes() const {
  std::lock_guard lk(mu_);
  return flushes_;
}

std::uint64_t GroupSync::epoch() const {
  std::lock_guard lk(mu_);
  return started_;
}

bool GroupSync::durable_since(std::uint64_t epoch) const {
  std::lock_guard lk(mu_);
  return durable_ > epoch;
}

tl::expected<void, StoreError> GroupSync::sync() {
  std::unique_lock lk(mu_);
  // Join the round that has not started yet: the running one may have begun its syncfs before
  // this caller's writes, so it proves nothing for them.
  if (!next_) next_ = std::make_shared<Round>();
  std::shared_ptr<Round> mine = next_;
  ++mine->callers;
  while (!mine->done) {
    if (running_) {
      mine->cv.wait(lk);
      continue;
    }
    // No flush runs, so `mine` is the waiting round: lead it. Callers arriving from now on
    // form the next round.
    running_ = true;
    next_.reset();
    const std::uint64_t number = ++started_;
    lk.unlock();
    auto r = flush();
    lk.lock();
    stats_.committed(mine->callers, r.has_value());
    if (r) durable_ = number;
    mine->result = r;
    mine->done = true;
    running_ = false;
    ++flushes_;
    mine->cv.notify_all();
    if (next_) next_->cv.notify_one();  // its leader
  }
  return mine->result;
}

// Only the leader of a round gets here, one at a time, so fd_ needs no lock of its own.
tl::expected<void, StoreError> GroupSync::flush() {
  if (fd_ < 0) {
    fd_ = fs_.open(dir_, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd_ < 0) return tl::unexpected(error_from_errno(errno));
  }
  if (fs_.syncfs(fd_) != 0) return tl::unexpected(error_from_errno(errno));
  if (fs_.fsync(fd_) != 0) return tl::unexpected(error_from_errno(errno));
  return {};
}

}  // namespace taube::store
