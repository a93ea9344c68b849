// Test helpers for the store: FailingFs, an Fs that delegates to posix_fs() but fails a chosen
// call with a chosen errno (ARCHITECTURE.md practice 13), and TempDir, a fresh directory per test.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "store/fs.hpp"

namespace taube::store::test {

enum class Op {
  Any,
  Open,
  Write,
  Read,
  Fsync,
  Close,
  Link,
  Rename,
  Unlink,
  Mkdir,
  Stat,
  Pwrite,
  Fdatasync,
  Syncfs,
  kCount
};

class FailingFs : public Fs {
 public:
  explicit FailingFs(Fs& real = posix_fs()) : real_(real) {}

  // Fails the n-th (1-based) call of kind `op` (Op::Any: the n-th call of any kind) with `err`.
  void fail_nth(Op op, int n, int err) {
    std::lock_guard lock(mu_);
    nth_op_ = op;
    nth_ = n;
    nth_err_ = err;
  }
  // Fails every call of kind `op` with `err` (e.g. link() with EXDEV).
  void fail_always(Op op, int err) {
    std::lock_guard lock(mu_);
    always_[static_cast<std::size_t>(op)] = err;
  }
  // Lets write() transfer at most `n` bytes per call (short writes).
  void max_write(std::size_t n) {
    std::lock_guard lock(mu_);
    max_write_ = n;
  }

  bool injected() const {
    std::lock_guard lock(mu_);
    return injected_;
  }
  int total_calls() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  int calls(Op op) const {
    std::lock_guard lock(mu_);
    return counts_[static_cast<std::size_t>(op)];
  }

  int open(const std::string& path, int flags, mode_t mode) override {
    return check(Op::Open) ? real_.open(path, flags, mode) : -1;
  }
  ssize_t write(int fd, const void* buf, std::size_t n) override {
    if (!check(Op::Write)) return -1;
    std::size_t limit = 0;
    {
      std::lock_guard lock(mu_);
      limit = max_write_;
    }
    return real_.write(fd, buf, limit ? std::min(n, limit) : n);
  }
  ssize_t read(int fd, void* buf, std::size_t n) override {
    return check(Op::Read) ? real_.read(fd, buf, n) : -1;
  }
  int fsync(int fd) override { return check(Op::Fsync) ? real_.fsync(fd) : -1; }
  int close(int fd) override {
    // Like Linux: the descriptor is released even when close() reports an error.
    bool ok = check(Op::Close);
    int saved = errno;
    real_.close(fd);
    if (ok) return 0;
    errno = saved;
    return -1;
  }
  int link(const std::string& from, const std::string& to) override {
    return check(Op::Link) ? real_.link(from, to) : -1;
  }
  // Counted as a link (Op::Link): it is the link of an anonymous file.
  int link_fd(int fd, const std::string& to) override {
    return check(Op::Link) ? real_.link_fd(fd, to) : -1;
  }
  int rename(const std::string& from, const std::string& to) override {
    return check(Op::Rename) ? real_.rename(from, to) : -1;
  }
  int unlink(const std::string& path) override {
    return check(Op::Unlink) ? real_.unlink(path) : -1;
  }
  int mkdir(const std::string& path, mode_t mode) override {
    return check(Op::Mkdir) ? real_.mkdir(path, mode) : -1;
  }
  int stat(const std::string& path, struct ::stat* st) override {
    return check(Op::Stat) ? real_.stat(path, st) : -1;
  }
  ssize_t pwrite(int fd, const void* buf, std::size_t n, off_t offset) override {
    return check(Op::Pwrite) ? real_.pwrite(fd, buf, n, offset) : -1;
  }
  int fdatasync(int fd) override { return check(Op::Fdatasync) ? real_.fdatasync(fd) : -1; }
  int syncfs(int fd) override { return check(Op::Syncfs) ? real_.syncfs(fd) : -1; }

 private:
  // Counts the call; returns false (errno set) if it is to fail. Locked: the journal's publisher
  // thread calls in too.
  bool check(Op op) {
    std::lock_guard lock(mu_);
    auto i = static_cast<std::size_t>(op);
    ++total_;
    ++counts_[i];
    if (nth_ > 0 &&
        ((nth_op_ == Op::Any && total_ == nth_) || (nth_op_ == op && counts_[i] == nth_))) {
      injected_ = true;
      errno = nth_err_;
      return false;
    }
    if (always_[i] != 0) {
      errno = always_[i];
      return false;
    }
    return true;
  }

  mutable std::mutex mu_;
  Fs& real_;
  Op nth_op_ = Op::Any;
  int nth_ = 0;
  int nth_err_ = 0;
  bool injected_ = false;
  std::size_t max_write_ = 0;
  int total_ = 0;
  std::array<int, static_cast<std::size_t>(Op::kCount)> counts_{};
  std::array<int, static_cast<std::size_t>(Op::kCount)> always_{};
};

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/taube-store-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Names of the entries of `dir` (empty if it does not exist).
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::span<const char> bytes(const std::string& s) {
  return {s.data(), s.size()};
}

}  // namespace taube::store::test
