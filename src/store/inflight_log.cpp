#include "store/inflight_log.hpp"

#include <fcntl.h>

#include <cerrno>

namespace taube::store {

InflightLog::InflightLog(std::string dir, Fs& fs) : dir_(std::move(dir)), fs_(fs) {}

InflightLog::~InflightLog() {
  for (int fd : fd_)
    if (fd >= 0) fs_.close(fd);
}

bool InflightLog::open_file(int file, bool truncate) {
  if (fd_[file] >= 0) fs_.close(fd_[file]);
  fd_[file] = fs_.open(path(file),
                       O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
  size_[file] = 0;
  return fd_[file] >= 0;
}

std::vector<queue::InflightMark> InflightLog::recover() {
  std::vector<queue::InflightMark> out;
  for (int file = 0; file < 2; ++file) {
    int fd = fs_.open(path(file), O_RDONLY | O_CLOEXEC, 0);
    if (fd >= 0) {
      std::string text;
      char buf[65536];
      for (;;) {
        const ssize_t n = fs_.read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<std::size_t>(n));
      }
      fs_.close(fd);
      for (auto& m : queue::parse_marks(text)) out.push_back(std::move(m));
    }
    open_file(file, true);
    outstanding_[file] = 0;
  }
  current_ = 0;
  return out;
}

int InflightLog::mark(const queue::InflightMark& m) {
  // Switch files when this one is large and the other holds nothing that waits.
  const int other = 1 - current_;
  if (size_[current_] >= kRotateBytes && outstanding_[other] == 0 && open_file(other, true))
    current_ = other;
  if (fd_[current_] < 0 && !open_file(current_, false)) return -1;
  const std::string line = queue::encode_mark(m);
  // One write: O_APPEND keeps the line whole in the file (a torn tail after a crash is skipped
  // by the parser).
  ssize_t n;
  do {
    n = fs_.write(fd_[current_], line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(line.size())) return -1;
  size_[current_] += line.size();
  ++outstanding_[current_];
  return current_;
}

void InflightLog::recorded(int ticket) {
  if (ticket < 0 || ticket > 1 || outstanding_[ticket] == 0) return;
  --outstanding_[ticket];
}

}  // namespace taube::store
