// The syscall seam of the store: every file-system call the store makes goes through Fs, so tests
// can fail each call in turn (ARCHITECTURE.md practice 13) and check nothing partial is left.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

namespace taube::store {

// Thin wrappers with POSIX semantics: return -1 and set errno on failure.
class Fs {
 public:
  virtual ~Fs() = default;
  virtual int open(const std::string& path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* buf, std::size_t n) = 0;
  virtual int fsync(int fd) = 0;
  virtual int close(int fd) = 0;
  virtual int link(const std::string& from, const std::string& to) = 0;
  virtual int rename(const std::string& from, const std::string& to) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int mkdir(const std::string& path, mode_t mode) = 0;
  virtual int stat(const std::string& path, struct ::stat* st) = 0;
  // Added for DurableFile's cross-file-system copy. Not pure, so existing fakes keep compiling;
  // the default calls ::read.
  virtual ssize_t read(int fd, void* buf, std::size_t n);
  // Gives the anonymous file open on `fd` (O_TMPFILE) the name `to` (linkat through
  // /proc/self/fd). Not pure, like read(); the default makes the real call.
  virtual int link_fd(int fd, const std::string& to);
  // For the delivery journal (DeliveryJournal, JournaledDelivery). Not pure either; the defaults
  // make the real calls.
  virtual ssize_t pwrite(int fd, const void* buf, std::size_t n, off_t offset);
  virtual ssize_t pread(int fd, void* buf, std::size_t n, off_t offset);
  virtual int fdatasync(int fd);
  virtual int syncfs(int fd);
  virtual int fstat(int fd, struct ::stat* st);
};

// Whether anonymous temp files can be named later: /proc/self/fd is there (checked once).
bool can_link_anonymous_files();

// The real thing (process-wide instance).
Fs& posix_fs();

}  // namespace taube::store
