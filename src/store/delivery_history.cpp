#include "store/delivery_history.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace taube::store {

namespace {

constexpr std::string_view kSuffix = ".jsonl";
// A segment is a tenth of the cap, at least this much (tests run with small caps).
constexpr std::uint64_t kMinSegment = 4096;

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    out.emplace_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

std::optional<std::uint64_t> digits(std::string_view s) {
  std::uint64_t n = 0;
  if (s.empty() || s.size() > 19) return std::nullopt;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

// A queue file name as a file name here: no path separators, no dot files.
bool safe_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name[0] != '.' &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

DeliveryHistory::DeliveryHistory(std::string dir, std::uint64_t max_bytes, Fs& fs)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      segment_max_(std::max(kMinSegment, max_bytes / 10)),
      fs_(fs) {}

DeliveryHistory::~DeliveryHistory() {
  if (fd_ >= 0) fs_.close(fd_);
}

std::string DeliveryHistory::segment_path(std::uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llu", static_cast<unsigned long long>(seq));
  return dir_ + "/" + name + std::string(kSuffix);
}

std::string DeliveryHistory::attempts_path(const std::string& name) const {
  return dir_ + "/attempts/" + name;
}

tl::expected<void, std::string> DeliveryHistory::open(std::int64_t stale_before) {
  for (const std::string& d : {dir_, dir_ + "/attempts"}) {
    if (fs_.mkdir(d, 0700) != 0 && errno != EEXIST)
      return tl::unexpected("cannot create " + d + ": " + std::strerror(errno));
  }
  std::lock_guard lock(mu_);
  segments_.clear();
  total_ = 0;
  for (const auto& f : list(dir_)) {
    if (!f.ends_with(kSuffix)) continue;
    auto seq = digits(std::string_view(f).substr(0, f.size() - kSuffix.size()));
    struct ::stat st {};
    if (!seq || fs_.stat(dir_ + "/" + f, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    segments_.push_back({*seq, static_cast<std::uint64_t>(st.st_size)});
  }
  std::sort(segments_.begin(), segments_.end(),
            [](const Segment& a, const Segment& b) { return a.seq < b.seq; });
  for (const auto& s : segments_) total_ += s.size;
  if (segments_.empty()) segments_.push_back({1, 0});
  fd_ =
      fs_.open(segment_path(segments_.back().seq), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0)
    return tl::unexpected("cannot open " + segment_path(segments_.back().seq) + ": " +
                          std::strerror(errno));
  // A tail torn by a crash: ended here, so that the next record is a line of its own.
  if (segments_.back().size > 0) {
    const std::string tail = read_prefix(segment_path(segments_.back().seq), segments_.back().size);
    if (!tail.empty() && tail.back() != '\n' && write_all(fd_, "\n")) {
      ++segments_.back().size;
      ++total_;
    }
  }
  drop_over_cap();
  if (stale_before > 0) {
    for (const auto& f : list(dir_ + "/attempts")) {
      struct ::stat st {};
      if (fs_.stat(attempts_path(f), &st) == 0 && st.st_mtime < stale_before)
        fs_.unlink(attempts_path(f));
    }
  }
  return {};
}

bool DeliveryHistory::write_all(int fd, std::string_view data) {
  ssize_t n;
  do {
    n = fs_.write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  // One write of whole lines (O_APPEND): a short one is what a full disk does; the partial
  // line it leaves is skipped by readers like a torn one.
  return n == static_cast<ssize_t>(data.size());
}

void DeliveryHistory::drop_over_cap() {
  while (total_ > max_bytes_ && segments_.size() > 1) {
    fs_.unlink(segment_path(segments_.front().seq));
    total_ -= segments_.front().size;
    segments_.pop_front();
  }
}

bool DeliveryHistory::append(const std::vector<DeliveryRecord>& records) {
  if (records.empty()) return true;
  std::string text;
  for (const auto& r : records) text += encode_record(r);
  std::lock_guard lock(mu_);
  if (fd_ < 0) return false;
  if (segments_.back().size > 0 && segments_.back().size + text.size() > segment_max_) {
    const std::uint64_t seq = segments_.back().seq + 1;
    const int fd =
        fs_.open(segment_path(seq), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      fs_.close(fd_);
      fd_ = fd;
      segments_.push_back({seq, 0});
    }
  }
  const bool ok = write_all(fd_, text);
  // A short write still counts what it may have written: the cap stays an upper bound.
  segments_.back().size += text.size();
  total_ += text.size();
  drop_over_cap();
  return ok;
}

bool DeliveryHistory::add_attempts(const std::string& name,
                                   const std::vector<IndexedAttempt>& attempts) {
  if (!safe_name(name) || attempts.empty()) return false;
  std::string text;
  for (const auto& a : attempts) text += encode_attempt_line(a.rcpt, a.attempt);
  const int fd = fs_.open(attempts_path(name), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = write_all(fd, text);
  fs_.close(fd);
  return ok;
}

std::vector<IndexedAttempt> DeliveryHistory::attempts_of(const std::string& name) {
  std::vector<IndexedAttempt> out;
  if (!safe_name(name)) return out;
  struct ::stat st {};
  if (fs_.stat(attempts_path(name), &st) != 0) return out;
  const std::string text = read_prefix(attempts_path(name), static_cast<std::uint64_t>(st.st_size));
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) break;  // a torn last line
    if (auto a = decode_attempt_line(std::string_view(text).substr(pos, end - pos)))
      out.push_back(std::move(*a));
    pos = end + 1;
  }
  return out;
}

void DeliveryHistory::forget_attempts(const std::string& name) {
  if (safe_name(name)) fs_.unlink(attempts_path(name));
}

std::string DeliveryHistory::read_prefix(const std::string& path, std::uint64_t size) {
  std::string out;
  const int fd = fs_.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return out;  // dropped by the cap meanwhile: nothing to read
  out.resize(size);
  std::uint64_t got = 0;
  while (got < size) {
    const ssize_t n = fs_.pread(fd, out.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  fs_.close(fd);
  out.resize(got);
  return out;
}

std::string DeliveryHistory::cursor_text(const Cursor& c) {
  return std::to_string(c.segment) + "." + std::to_string(c.offset);
}

std::optional<DeliveryHistory::Cursor> DeliveryHistory::parse_cursor(std::string_view s) {
  const auto dot = s.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto seg = digits(s.substr(0, dot));
  auto off = digits(s.substr(dot + 1));
  if (!seg || !off) return std::nullopt;
  return Cursor{*seg, *off};
}

DeliveryHistory::Page DeliveryHistory::search(const RecordQuery& q, std::size_t limit,
                                              std::optional<Cursor> before) {
  Page page;
  std::vector<Segment> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot.assign(segments_.begin(), segments_.end());
  }
  for (auto s = snapshot.rbegin(); s != snapshot.rend(); ++s) {
    std::uint64_t end = s->size;
    if (before) {
      if (s->seq > before->segment) continue;
      if (s->seq == before->segment) end = std::min(end, before->offset);
    }
    if (end == 0) continue;
    const std::string text = read_prefix(segment_path(s->seq), end);
    // Newest first: the lines from the end. A last line without its newline is torn (or being
    // written by nobody: the snapshot ends on a boundary) and skipped.
    std::size_t stop = text.size();
    if (!text.empty() && text.back() != '\n') {
      const auto nl = text.rfind('\n');
      stop = nl == std::string::npos ? 0 : nl + 1;
    }
    while (stop > 0) {
      const std::size_t last = stop - 1;  // its '\n'
      const auto prev = last == 0 ? std::string::npos : text.rfind('\n', last - 1);
      const std::size_t start = prev == std::string::npos ? 0 : prev + 1;
      const std::string_view line(text.data() + start, last - start);
      stop = start;
      if (!may_match(line, q)) continue;
      auto r = decode_record(line);
      if (!r || !matches(*r, q)) continue;
      page.records.push_back(std::move(*r));
      if (page.records.size() >= limit) {
        // More may follow: the next page starts before this line (even when nothing is left,
        // a client then gets an empty page, which is cheaper than looking ahead).
        if (start > 0 || s + 1 != snapshot.rend()) page.next = Cursor{s->seq, start};
        return page;
      }
    }
  }
  return page;
}

std::uint64_t DeliveryHistory::bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::size_t DeliveryHistory::segments() const {
  std::lock_guard lock(mu_);
  return segments_.size();
}

}  // namespace taube::store
