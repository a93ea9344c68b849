// posix_fs(): the real syscalls behind the Fs seam, and StoreError's names.
#include "store/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "store/store_error.hpp"

namespace taube::store {

namespace {

// Retries a call interrupted by a signal before it did anything (EINTR). write() is not wrapped:
// DurableFile loops on short writes and EINTR itself, so a fake Fs can exercise that loop.
template <typename F>
auto retry_eintr(F f) {
  for (;;) {
    auto r = f();
    if (r != -1 || errno != EINTR) return r;
  }
}

class PosixFs final : public Fs {
 public:
  int open(const std::string& path, int flags, mode_t mode) override {
    return retry_eintr([&] { return ::open(path.c_str(), flags, mode); });
  }
  ssize_t write(int fd, const void* buf, std::size_t n) override { return ::write(fd, buf, n); }
  ssize_t read(int fd, void* buf, std::size_t n) override {
    return retry_eintr([&] { return ::read(fd, buf, n); });
  }
  int fsync(int fd) override {
    return retry_eintr([&] { return ::fsync(fd); });
  }
  // Never retried: on Linux the descriptor is released even when close() reports EINTR, and a
  // retry could close a descriptor another thread has just been given.
  int close(int fd) override { return ::close(fd); }
  int link(const std::string& from, const std::string& to) override {
    return retry_eintr([&] { return ::link(from.c_str(), to.c_str()); });
  }
  int rename(const std::string& from, const std::string& to) override {
    return retry_eintr([&] { return ::rename(from.c_str(), to.c_str()); });
  }
  int unlink(const std::string& path) override {
    return retry_eintr([&] { return ::unlink(path.c_str()); });
  }
  int mkdir(const std::string& path, mode_t mode) override {
    return retry_eintr([&] { return ::mkdir(path.c_str(), mode); });
  }
  int stat(const std::string& path, struct ::stat* st) override {
    return retry_eintr([&] { return ::stat(path.c_str(), st); });
  }
};

}  // namespace

ssize_t Fs::read(int fd, void* buf, std::size_t n) {
  return ::read(fd, buf, n);
}

// linkat(2): an O_TMPFILE file is named through its /proc/self/fd link with AT_SYMLINK_FOLLOW
// (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
int Fs::link_fd(int fd, const std::string& to) {
  const std::string from = "/proc/self/fd/" + std::to_string(fd);
  return retry_eintr(
      [&] { return ::linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW); });
}

ssize_t Fs::pwrite(int fd, const void* buf, std::size_t n, off_t offset) {
  return ::pwrite(fd, buf, n, offset);
}

ssize_t Fs::pread(int fd, void* buf, std::size_t n, off_t offset) {
  return retry_eintr([&] { return ::pread(fd, buf, n, offset); });
}

int Fs::fdatasync(int fd) {
  return retry_eintr([&] { return ::fdatasync(fd); });
}

// syncfs(2) reports write-back errors of the whole file system since Linux 5.8.
int Fs::syncfs(int fd) {
  return retry_eintr([&] { return ::syncfs(fd); });
}

int Fs::fstat(int fd, struct ::stat* st) {
  return ::fstat(fd, st);
}

bool can_link_anonymous_files() {
  static const bool ok = ::access("/proc/self/fd", X_OK) == 0;
  return ok;
}

Fs& posix_fs() {
  static PosixFs fs;
  return fs;
}

const char* to_string(StoreError e) {
  switch (e) {
    case StoreError::Io:
      return "I/O error";
    case StoreError::NoSpace:
      return "no space left (disk full or quota exceeded)";
    case StoreError::Permission:
      return "permission denied";
  }
  return "unknown store error";
}

}  // namespace taube::store
