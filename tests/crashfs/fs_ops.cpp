// FUSE lowlevel handlers over the Model (fs_ops.hpp). Writes are write-through (no writeback
// cache), so each write(2) reaches the Model before it returns. The kernel may cache names and
// attributes for a second (every change goes through this one mount, so its caches stay right;
// after a cut the file system is mounted afresh); a missing name is never cached.
#include "fs_ops.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "crashfs.hpp"

namespace crashfs {

namespace {

constexpr double kCacheSeconds = 1.0;

State& state(fuse_req_t req) {
  return *static_cast<State*>(fuse_req_userdata(req));
}

}  // namespace

void fill_stat(const Inode& i, struct ::stat& st) {
  std::memset(&st, 0, sizeof st);
  st.st_ino = i.ino;
  st.st_mode = i.mode;
  st.st_nlink = i.dir ? 2 + i.subdirs : i.vlinks;
  st.st_uid = i.uid;
  st.st_gid = i.gid;
  st.st_size = i.dir ? 4096 : static_cast<off_t>(i.data.size());
  st.st_blksize = kChunk;
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_atim = i.atime;
  st.st_mtim = i.mtime;
  st.st_ctim = i.ctime;
}

namespace {

// Replies with the entry of `ino` and takes the kernel's reference.
void reply_entry(fuse_req_t req, State& st, Ino ino) {
  fuse_entry_param e{};
  e.ino = ino;
  e.generation = 1;
  e.attr_timeout = kCacheSeconds;
  e.entry_timeout = kCacheSeconds;
  fill_stat(*st.model.get(ino), e.attr);
  st.model.ref(ino);
  fuse_reply_entry(req, &e);
}

#define LOCKED(req)           \
  State& st = state(req);     \
  std::lock_guard lk(st.mu);  \
  if (st.dead) {              \
    fuse_reply_err(req, EIO); \
    return;                   \
  }

void op_init(void*, fuse_conn_info* conn) {
  // Write-through: the kernel must not hold dirty pages of its own (they would outlive a cut).
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE);
  if (conn->capable & FUSE_CAP_IOCTL_DIR) conn->want |= FUSE_CAP_IOCTL_DIR;  // syncfs(dirfd)
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  LOCKED(req);
  Ino ino = 0;
  if (int e = st.model.lookup(parent, name, ino)) {
    if (e == ENOENT) {  // a negative entry, not cached
      fuse_entry_param none{};
      fuse_reply_entry(req, &none);
      return;
    }
    fuse_reply_err(req, e);
    return;
  }
  reply_entry(req, st, ino);
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  State& st = state(req);
  {
    std::lock_guard lk(st.mu);
    st.model.forget(ino, n);
  }
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* f) {
  State& st = state(req);
  {
    std::lock_guard lk(st.mu);
    for (size_t k = 0; k < count; ++k) st.model.forget(f[k].ino, f[k].nlookup);
  }
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  LOCKED(req);
  const Inode* i = st.model.get(ino);
  if (!i) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct ::stat s {};
  fill_stat(*i, s);
  fuse_reply_attr(req, &s, kCacheSeconds);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  LOCKED(req);
  Inode* i = st.model.get(ino);
  if (!i) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (int e = st.model.truncate(ino, static_cast<std::uint64_t>(attr->st_size))) {
      fuse_reply_err(req, e);
      return;
    }
  }
  if (to_set & FUSE_SET_ATTR_MODE) i->mode = (i->mode & S_IFMT) | (attr->st_mode & 07777);
  if (to_set & FUSE_SET_ATTR_UID) i->uid = attr->st_uid;
  if (to_set & FUSE_SET_ATTR_GID) i->gid = attr->st_gid;
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  if (to_set & FUSE_SET_ATTR_ATIME) i->atime = attr->st_atim;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) i->atime = now;
  if (to_set & FUSE_SET_ATTR_MTIME) i->mtime = attr->st_mtim;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) i->mtime = now;
  i->ctime = now;
  struct ::stat s {};
  fill_stat(*i, s);
  fuse_reply_attr(req, &s, kCacheSeconds);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  LOCKED(req);
  if (!S_ISREG(mode)) {
    fuse_reply_err(req, EPERM);  // only regular files and directories are modelled
    return;
  }
  const fuse_ctx* c = fuse_req_ctx(req);
  Ino ino = 0;
  if (int e = st.model.create(parent, name, mode & ~c->umask, c->uid, c->gid, ino)) {
    fuse_reply_err(req, e);
    return;
  }
  reply_entry(req, st, ino);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  LOCKED(req);
  const fuse_ctx* c = fuse_req_ctx(req);
  Ino ino = 0;
  if (int e = st.model.mkdir(parent, name, mode & ~c->umask, c->uid, c->gid, ino)) {
    fuse_reply_err(req, e);
    return;
  }
  reply_entry(req, st, ino);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  LOCKED(req);
  fuse_reply_err(req, st.model.unlink(parent, name));
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  LOCKED(req);
  fuse_reply_err(req, st.model.rmdir(parent, name));
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  LOCKED(req);
  fuse_reply_err(req, st.model.rename(parent, name, newparent, newname, flags));
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  LOCKED(req);
  if (int e = st.model.link(ino, newparent, newname)) {
    fuse_reply_err(req, e);
    return;
  }
  reply_entry(req, st, ino);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  LOCKED(req);
  Inode* i = st.model.get(ino);
  if (!i) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (fi->flags & O_TRUNC) st.model.truncate(ino, 0);
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  LOCKED(req);
  const fuse_ctx* c = fuse_req_ctx(req);
  Ino ino = 0;
  if (int e = st.model.create(parent, name, mode & ~c->umask, c->uid, c->gid, ino)) {
    fuse_reply_err(req, e);
    return;
  }
  fuse_entry_param e{};
  e.ino = ino;
  e.generation = 1;
  e.attr_timeout = kCacheSeconds;
  e.entry_timeout = kCacheSeconds;
  fill_stat(*st.model.get(ino), e.attr);
  st.model.ref(ino);
  fuse_reply_create(req, &e, fi);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  LOCKED(req);
  std::vector<char> buf(size);
  std::size_t got = 0;
  if (int e = st.model.read(ino, static_cast<std::uint64_t>(off), buf.data(), size, got)) {
    fuse_reply_err(req, e);
    return;
  }
  fuse_reply_buf(req, buf.data(), got);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
              fuse_file_info*) {
  LOCKED(req);
  if (int e = st.model.write(ino, static_cast<std::uint64_t>(off), buf, size)) {
    fuse_reply_err(req, e);
    return;
  }
  fuse_reply_write(req, size);
}

// close(2): makes nothing durable, and does not fail on a local disk (not after a cut either).
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);  // cannot fail, also after a cut
}

void do_fsync(fuse_req_t req, fuse_ino_t ino, SyncKind kind) {
  LOCKED(req);
  if (int e = st.before_sync(kind, ino)) {
    fuse_reply_err(req, e);
    return;
  }
  if (kind == SyncKind::Fsyncdir) {
    st.model.fsync_dir(ino);
  } else {
    st.model.fsync_file(ino);
  }
  st.after_sync();
  fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info*) {
  do_fsync(req, ino, datasync ? SyncKind::Fdatasync : SyncKind::Fsync);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  do_fsync(req, ino, SyncKind::Fsyncdir);
}

// A directory handle holds a snapshot of the entries, taken at opendir.
struct DirHandle {
  std::vector<std::pair<std::string, struct ::stat>> entries;
};

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  LOCKED(req);
  const Inode* d = st.model.get(ino);
  if (!d) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (!d->dir) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  auto h = std::make_unique<DirHandle>();
  struct ::stat s {};
  fill_stat(*d, s);
  h->entries.emplace_back(".", s);
  if (const Inode* p = st.model.get(d->parent)) fill_stat(*p, s);
  h->entries.emplace_back("..", s);
  for (const auto& [name, child] : d->entries) {
    fill_stat(*st.model.get(child), s);
    h->entries.emplace_back(name, s);
  }
  fi->fh = reinterpret_cast<std::uint64_t>(h.release());
  fuse_reply_open(req, fi);
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  LOCKED(req);
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  std::vector<char> buf(size);
  std::size_t used = 0;
  for (auto k = static_cast<std::size_t>(off); k < h->entries.size(); ++k) {
    const auto& [name, s] = h->entries[k];
    std::size_t n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &s,
                                      static_cast<off_t>(k + 1));
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  LOCKED(req);
  struct ::statvfs s {};
  s.f_bsize = s.f_frsize = kChunk;
  s.f_blocks = s.f_bfree = s.f_bavail = 1ull << 24;  // 64 GiB, all free
  s.f_files = s.f_ffree = s.f_favail = 1ull << 24;
  s.f_namemax = 255;
  fuse_reply_statfs(req, &s);
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info*) {
  LOCKED(req);
  if (mode & ~FALLOC_FL_KEEP_SIZE) {
    fuse_reply_err(req, EOPNOTSUPP);
    return;
  }
  Inode* i = st.model.get(ino);
  if (!i || i->dir) {
    fuse_reply_err(req, i ? EISDIR : ENOENT);
    return;
  }
  // posix_fallocate: the range reads as zeros where unwritten; only the size is visible here.
  const auto end = static_cast<std::uint64_t>(off + len);
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i->data.size()) st.model.truncate(ino, end);
  fuse_reply_err(req, 0);
}

void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void*, fuse_file_info*, unsigned,
              const void*, size_t, size_t) {
  LOCKED(req);
  if (cmd != static_cast<unsigned int>(CRASHFS_IOC_SYNCFS)) {
    fuse_reply_err(req, ENOTTY);
    return;
  }
  if (int e = st.before_sync(SyncKind::Syncfs, ino)) {
    fuse_reply_err(req, e);
    return;
  }
  st.model.syncfs();
  st.after_sync();
  fuse_reply_ioctl(req, 0, nullptr, 0);
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops o{};
  o.init = op_init;
  o.lookup = op_lookup;
  o.forget = op_forget;
  o.forget_multi = op_forget_multi;
  o.getattr = op_getattr;
  o.setattr = op_setattr;
  o.mknod = op_mknod;
  o.mkdir = op_mkdir;
  o.unlink = op_unlink;
  o.rmdir = op_rmdir;
  o.rename = op_rename;
  o.link = op_link;
  o.open = op_open;
  o.create = op_create;
  o.read = op_read;
  o.write = op_write;
  o.flush = op_flush;
  o.release = op_release;
  o.fsync = op_fsync;
  o.opendir = op_opendir;
  o.readdir = op_readdir;
  o.releasedir = op_releasedir;
  o.fsyncdir = op_fsyncdir;
  o.statfs = op_statfs;
  o.fallocate = op_fallocate;
  o.ioctl = op_ioctl;
  return o;
}

}  // namespace

const fuse_lowlevel_ops& operations() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace crashfs
