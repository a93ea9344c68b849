// The power switch and the sync counters (State), and FUSE_TMPFILE, which libfuse 3.14 does not
// dispatch (fs_ops.hpp).
#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "fs_ops.hpp"

namespace crashfs {

namespace {

// Writes one reply to /dev/fuse: the header, then the payload parts.
void reply_raw(int fd, std::uint64_t unique, int error, std::vector<iovec> parts) {
  fuse_out_header oh{};
  oh.unique = unique;
  oh.error = -error;
  std::size_t len = sizeof oh;
  if (error != 0) parts.clear();
  for (const auto& p : parts) len += p.iov_len;
  oh.len = static_cast<std::uint32_t>(len);
  parts.insert(parts.begin(), iovec{&oh, sizeof oh});
  (void)::writev(fd, parts.data(), static_cast<int>(parts.size()));
}

}  // namespace

// FUSE_TMPFILE (protocol 7.37, Linux 6.1): like FUSE_CREATE without a name. The reply is a
// fuse_entry_out and a fuse_open_out. ENOSYS makes the kernel answer EOPNOTSUPP to this and
// every later O_TMPFILE open, which is how `--no-tmpfile` behaves.
void handle_tmpfile(State& st, int fuse_fd, const char* req, std::size_t len) {
  fuse_in_header ih{};
  std::memcpy(&ih, req, sizeof ih);
  fuse_create_in ci{};
  if (len < sizeof ih + sizeof ci) {
    reply_raw(fuse_fd, ih.unique, EINVAL, {});
    return;
  }
  std::memcpy(&ci, req + sizeof ih, sizeof ci);
  std::lock_guard lk(st.mu);
  if (!st.tmpfile) {
    reply_raw(fuse_fd, ih.unique, ENOSYS, {});
    return;
  }
  if (st.dead) {
    reply_raw(fuse_fd, ih.unique, EIO, {});
    return;
  }
  Ino ino = 0;
  if (int e = st.model.tmpfile(ih.nodeid, ci.mode & ~ci.umask, ih.uid, ih.gid, ino)) {
    reply_raw(fuse_fd, ih.unique, e, {});
    return;
  }
  st.model.ref(ino);
  struct ::stat s {};
  fill_stat(*st.model.get(ino), s);
  fuse_entry_out eo{};
  eo.nodeid = ino;
  eo.generation = 1;
  eo.attr.ino = s.st_ino;
  eo.attr.size = static_cast<std::uint64_t>(s.st_size);
  eo.attr.mode = s.st_mode;
  eo.attr.nlink = static_cast<std::uint32_t>(s.st_nlink);
  eo.attr.uid = s.st_uid;
  eo.attr.gid = s.st_gid;
  eo.attr.blksize = kChunk;
  eo.attr.atime = static_cast<std::uint64_t>(s.st_atim.tv_sec);
  eo.attr.mtime = static_cast<std::uint64_t>(s.st_mtim.tv_sec);
  eo.attr.ctime = static_cast<std::uint64_t>(s.st_ctim.tv_sec);
  fuse_open_out oo{};
  reply_raw(fuse_fd, ih.unique, 0, {iovec{&eo, sizeof eo}, iovec{&oo, sizeof oo}});
}

// ---- State ---------------------------------------------------------------------------------

void State::cut() {
  if (dead) return;
  dead = true;
  store_error = backing.store(model);
}

int State::before_sync(SyncKind k, Ino ino) {
  ++syncs;
  ++counts[static_cast<int>(k)];
  if (events.size() < 100000) events.push_back({k, model.path_of(ino)});
  if (armed_left != 0 && (armed_kind < 0 || armed_kind == static_cast<int>(k)) && --armed_left == 0)
    armed_firing = true;
  if (armed_firing && !armed_after) {
    armed_firing = false;
    cut();
    return EIO;
  }
  return 0;
}

void State::after_sync() {
  if (armed_firing && armed_after) {
    armed_firing = false;
    cut();
  }
}

}  // namespace crashfs
