// DurableFile: tmp -> fsync -> link (or copy + rename) -> fsync directories -> unlink tmp.
//
// Why this order: the content must be on disk before any name points at it (fsync of the file
// first); a new directory entry is only durable once its directory is fsynced, so each final
// directory is fsynced before publish() reports success (this is what lets the caller say 250).
// The temp name is removed last; a crash before that leaves only a stale tmp/ file, which
// MaildirStore::clean_tmp() removes. Every failure undoes what was done, so a final name exists
// only after a successful publish().
//
// An anonymous temp file (O_TMPFILE, Linux >= 3.11) has no temp name at all: it is fsynced, then
// linkat() gives it its first final name, and the directory fsync makes that name durable (on a
// journalling file system the link and the inode's new link count are one transaction, which the
// directory fsync commits). Compared with a named temp file this saves the create and unlink in
// tmp/ (and the lock on that directory they take), and a crash leaves nothing behind.
#include "store/durable_file.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace taube::store {

StoreError error_from_errno(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return StoreError::NoSpace;
    case EACCES:
    case EPERM:
    case EROFS:
      return StoreError::Permission;
    default:
      return StoreError::Io;
  }
}

namespace {

tl::unexpected<StoreError> fail_errno() {
  return tl::unexpected(error_from_errno(errno));
}

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A successful close(); on Linux EINTR from close() still releases the descriptor, and the data
// was already fsynced, so it is not an error.
bool close_ok(Fs& fs, int fd) {
  return fs.close(fd) == 0 || errno == EINTR;
}

// open(O_DIRECTORY) + fsync + close: makes the directory's entries durable.
tl::expected<void, StoreError> fsync_dir(Fs& fs, const std::string& dir) {
  int fd = fs.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return fail_errno();
  if (fs.fsync(fd) != 0) {
    int err = errno;
    fs.close(fd);
    return tl::unexpected(error_from_errno(err));
  }
  if (!close_ok(fs, fd)) return fail_errno();
  return {};
}

// Group commit for directories: many messages linked into the same new/ concurrently need only
// one fsync of that directory that starts after all their links. A caller whose link is covered by
// a sync that started later than the link waits for it instead of issuing its own. One leader
// syncs at a time per directory; its result covers every link registered before it started.
struct DirSyncState {
  std::mutex m;
  std::condition_variable cv;
  std::uint64_t requested = 0;  // links registered so far
  std::uint64_t synced = 0;     // links covered by a completed fsync
  bool in_progress = false;
};

std::shared_ptr<DirSyncState> dir_state(const std::string& dir) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<DirSyncState>> states;
  std::lock_guard lk(mu);
  auto& st = states[dir];
  if (!st) st = std::make_shared<DirSyncState>();
  return st;
}

tl::expected<void, StoreError> fsync_dir_grouped(Fs& fs, const std::string& dir) {
  auto st = dir_state(dir);
  std::unique_lock lk(st->m);
  const std::uint64_t mine = ++st->requested;  // our link happened before this point
  while (st->synced < mine) {
    if (st->in_progress) {
      st->cv.wait(lk);
      continue;
    }
    st->in_progress = true;
    const std::uint64_t target = st->requested;
    lk.unlock();
    auto r = fsync_dir(fs, dir);
    lk.lock();
    st->in_progress = false;
    if (r) st->synced = std::max(st->synced, target);
    st->cv.notify_all();
    // On failure only the leader reports it; waiters find synced < mine and try themselves.
    if (!r) return r;
  }
  return {};
}

// Writes all of `n` bytes, retrying short writes and EINTR.
bool write_all(Fs& fs, int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = fs.write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {  // should not happen for regular files; avoid spinning forever
      errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Where a cross-file-system copy of `final_path` is written before its rename: the Maildir tmp/
// sibling of the final directory ("<md>/new/<name>" -> "<md>/tmp/<name>"), so a crash leaves the
// partial copy where clean_tmp() finds it. Other layouts use "<final>.tmp" next to the final name.
std::string copy_tmp_path(const std::string& final_path, const std::string& own_tmp) {
  std::string out;
  auto slash = final_path.find_last_of('/');
  std::string dir = slash == std::string::npos ? std::string() : final_path.substr(0, slash);
  auto dslash = dir.find_last_of('/');
  std::string dir_base = dslash == std::string::npos ? dir : dir.substr(dslash + 1);
  if (dir_base == "new") {
    out = dir.substr(0, dslash == std::string::npos ? 0 : dslash + 1) + "tmp" +
          final_path.substr(slash);
  } else {
    out = final_path + ".tmp";
  }
  // Only reachable when link() fails with EXDEV inside the very Maildir that holds our temp file
  // (a mount point at new/), but then the names would collide.
  if (out == own_tmp) out += ".copy";
  return out;
}

}  // namespace

tl::expected<DurableFile, StoreError> DurableFile::create(Fs& fs, std::string tmp_path) {
  int fd = fs.open(tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno();
  return DurableFile(fs, fd, std::move(tmp_path));
}

tl::expected<DurableFile, StoreError> DurableFile::create_anonymous(Fs& fs, const std::string& dir,
                                                                    std::string fallback_tmp_path) {
  if (!can_link_anonymous_files()) return create(fs, std::move(fallback_tmp_path));
  int fd = fs.open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    // open(2): EISDIR or EOPNOTSUPP when the kernel or file system lacks O_TMPFILE.
    if (errno == EISDIR || errno == EOPNOTSUPP || errno == EINVAL)
      return create(fs, std::move(fallback_tmp_path));
    return fail_errno();
  }
  DurableFile f(fs, fd, std::string());
  f.anonymous_ = true;
  return f;
}

DurableFile::DurableFile(DurableFile&& other) noexcept
    : fs_(other.fs_),
      fd_(std::exchange(other.fd_, -1)),
      tmp_path_(std::move(other.tmp_path_)),
      size_(other.size_),
      finished_(std::exchange(other.finished_, true)),
      anonymous_(other.anonymous_) {}

DurableFile& DurableFile::operator=(DurableFile&& other) noexcept {
  if (this != &other) {
    abort();
    fs_ = other.fs_;
    fd_ = std::exchange(other.fd_, -1);
    tmp_path_ = std::move(other.tmp_path_);
    size_ = other.size_;
    finished_ = std::exchange(other.finished_, true);
    anonymous_ = other.anonymous_;
  }
  return *this;
}

DurableFile::~DurableFile() {
  abort();
}

void DurableFile::close_fd() {
  if (fd_ >= 0) {
    fs_->close(fd_);
    fd_ = -1;
  }
}

void DurableFile::abort() {
  if (finished_) return;
  finished_ = true;
  close_fd();  // an anonymous file goes away with its last descriptor
  if (!anonymous_) fs_->unlink(tmp_path_);
}

tl::expected<void, StoreError> DurableFile::write(std::span<const char> data) {
  if (finished_ || fd_ < 0) return tl::unexpected(StoreError::Io);
  if (!write_all(*fs_, fd_, data.data(), data.size())) return fail_errno();
  size_ += data.size();
  return {};
}

// Copies the (fsynced, complete) file `source` to `final_path` on another file system: a new file
// in the final Maildir's tmp/, written, fsynced, closed and renamed into place. `copy_tmp` is set
// to the copy's temp name while it exists, so the caller can remove it on failure.
tl::expected<void, StoreError> DurableFile::copy_to(const std::string& source,
                                                    const std::string& final_path,
                                                    std::string& copy_tmp) {
  int in = fs_->open(source, O_RDONLY | O_CLOEXEC, 0);
  if (in < 0) return fail_errno();
  std::string dst_path = copy_tmp_path(final_path, source);
  int out = fs_->open(dst_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (out < 0) {
    int err = errno;
    fs_->close(in);
    return tl::unexpected(error_from_errno(err));
  }
  copy_tmp = dst_path;
  auto fail = [&](int err) -> tl::expected<void, StoreError> {
    if (in >= 0) fs_->close(in);
    if (out >= 0) fs_->close(out);
    return tl::unexpected(error_from_errno(err));
  };
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    ssize_t r = fs_->read(in, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail(errno);
    }
    if (r == 0) break;
    if (!write_all(*fs_, out, buf.data(), static_cast<std::size_t>(r))) return fail(errno);
  }
  if (!close_ok(*fs_, std::exchange(in, -1))) return fail(errno);
  if (fs_->fsync(out) != 0) return fail(errno);
  if (!close_ok(*fs_, std::exchange(out, -1))) return fail(errno);
  if (fs_->rename(dst_path, final_path) != 0) return fail(errno);
  copy_tmp.clear();
  return {};
}

// Gives the file every name in `finals` (hard links; an anonymous file gets its first name by
// linkat; EXDEV: a durable copy). `created` collects the names that exist, for the caller's undo.
tl::expected<void, StoreError> DurableFile::make_links(const std::vector<std::string>& finals,
                                                       std::vector<std::string>& created,
                                                       std::string& copy_tmp) {
  // The name further links and copies are made from: the temp name, or for an anonymous file its
  // first final name (in the same Maildir as the file, so on the same file system).
  std::string source = tmp_path_;
  std::size_t next = 0;
  if (anonymous_) {
    if (fs_->link_fd(fd_, finals.front()) == 0) {
      created.push_back(finals.front());
      source = finals.front();
      next = 1;
    } else if (errno == EXDEV) {
      // new/ is on another file system than tmp/ (a mount point): copies read the file through
      // its descriptor, which stays open until they are done.
      source = "/proc/self/fd/" + std::to_string(fd_);
    } else {
      return fail_errno();
    }
  }
  for (; next < finals.size(); ++next) {
    const auto& final_path = finals[next];
    if (fs_->link(source, final_path) == 0) {
      created.push_back(final_path);
      continue;
    }
    if (errno != EXDEV) return fail_errno();
    if (auto r = copy_to(source, final_path, copy_tmp); !r) return r;
    created.push_back(final_path);
  }
  return {};
}

namespace {

std::vector<std::string> distinct(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) {
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

}  // namespace

tl::expected<void, StoreError> DurableFile::publish(const std::vector<std::string>& final_paths) {
  if (finished_ || fd_ < 0 || final_paths.empty()) return tl::unexpected(StoreError::Io);
  const std::vector<std::string> finals = distinct(final_paths);

  std::vector<std::string> created;  // final names that exist now, removed again on failure
  std::string copy_tmp;              // a cross-device copy's temp name, while it exists
  auto undo = [&](StoreError e) -> tl::expected<void, StoreError> {
    for (const auto& p : created) fs_->unlink(p);
    if (!copy_tmp.empty()) fs_->unlink(copy_tmp);
    abort();  // closes the descriptor if still open, removes the temp name
    return tl::unexpected(e);
  };
  auto fail = [&](int err) { return undo(error_from_errno(err)); };

  if (fs_->fsync(fd_) != 0) return fail(errno);
  if (auto r = make_links(finals, created, copy_tmp); !r) return undo(r.error());
  int fd = std::exchange(fd_, -1);
  if (!close_ok(*fs_, fd)) return fail(errno);

  std::vector<std::string> dirs;
  for (const auto& p : finals) {
    auto d = parent_dir(p);
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  }
  for (const auto& d : dirs) {
    if (auto r = fsync_dir_grouped(*fs_, d); !r) return undo(r.error());
  }

  // The message is durable under its final names; removing the temp name is cleanup, but a
  // failure here is still reported (and undone) so that every failing syscall yields an error.
  if (!anonymous_ && fs_->unlink(tmp_path_) != 0) return fail(errno);
  finished_ = true;
  return {};
}

tl::expected<std::vector<std::string>, StoreError> DurableFile::link_durable(
    const std::vector<std::string>& final_paths) {
  if (finished_ || fd_ < 0 || final_paths.empty()) return tl::unexpected(StoreError::Io);
  const std::vector<std::string> finals = distinct(final_paths);
  std::vector<std::string> created;
  std::string copy_tmp;
  auto undo = [&](StoreError e) -> tl::expected<std::vector<std::string>, StoreError> {
    for (const auto& p : created) fs_->unlink(p);
    if (!copy_tmp.empty()) fs_->unlink(copy_tmp);
    abort();
    return tl::unexpected(e);
  };
  if (auto r = make_links(finals, created, copy_tmp); !r) return undo(r.error());
  int fd = std::exchange(fd_, -1);
  if (!close_ok(*fs_, fd)) return undo(error_from_errno(errno));
  if (!anonymous_ && fs_->unlink(tmp_path_) != 0) return undo(error_from_errno(errno));
  finished_ = true;
  return created;
}

tl::expected<void, StoreError> fsync_directory(Fs& fs, const std::string& dir) {
  return fsync_dir_grouped(fs, dir);
}

std::string parent_directory(const std::string& path) {
  return parent_dir(path);
}

tl::expected<void, StoreError> make_directories(Fs& fs, const std::string& dir_in) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return tl::unexpected(StoreError::Io);
  // Up to the first existing ancestor on ENOENT, then down again.
  std::vector<std::string> missing{dir};
  std::vector<std::string> created;
  while (!missing.empty()) {
    const std::string& d = missing.back();
    if (fs.mkdir(d, 0700) == 0) {
      created.push_back(d);
      missing.pop_back();
      continue;
    }
    if (errno == EEXIST) {
      missing.pop_back();
      continue;
    }
    if (errno != ENOENT) return tl::unexpected(error_from_errno(errno));
    const auto slash = d.find_last_of('/');
    if (slash == std::string::npos || slash == 0 || missing.size() > 256)
      return tl::unexpected(error_from_errno(ENOENT));
    missing.push_back(d.substr(0, slash));
  }
  // Deepest first: each fsync makes one new name durable in its parent.
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    if (auto r = fsync_directory(fs, parent_directory(*it)); !r) return r;
  }
  return {};
}

}  // namespace taube::store
