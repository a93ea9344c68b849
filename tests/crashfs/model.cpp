// crashfs::Model: the volatile and durable images and the rules that move state from one to the
// other (model.hpp; docs/robustness.md).
#include "model.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

namespace crashfs {

namespace {

struct timespec now() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

constexpr unsigned kRenameNoReplace = 1;  // RENAME_NOREPLACE
constexpr unsigned kRenameExchange = 2;   // RENAME_EXCHANGE

}  // namespace

const char* to_string(SyncKind k) {
  switch (k) {
    case SyncKind::Fsync:
      return "fsync";
    case SyncKind::Fdatasync:
      return "fdatasync";
    case SyncKind::Fsyncdir:
      return "fsyncdir";
    case SyncKind::Syncfs:
      return "syncfs";
  }
  return "?";
}

// ---- Model: bookkeeping --------------------------------------------------------------------

Model::Model() {
  auto root = std::make_unique<Inode>();
  root->ino = kRootIno;
  root->dir = true;
  root->mode = S_IFDIR | 0755;
  root->atime = root->mtime = root->ctime = now();
  root->parent = kRootIno;
  root->vlinks = root->dlinks = 1;
  inodes_.emplace(kRootIno, std::move(root));
}

Inode* Model::get(Ino ino) {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.get();
}

const Inode* Model::get(Ino ino) const {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.get();
}

Inode& Model::make(bool dir, mode_t mode, uid_t uid, gid_t gid) {
  auto i = std::make_unique<Inode>();
  i->ino = next_ino_++;
  i->dir = dir;
  i->mode = (dir ? S_IFDIR : S_IFREG) | (mode & 07777);
  i->uid = uid;
  i->gid = gid;
  i->atime = i->mtime = i->ctime = now();
  Inode& ref = *i;
  inodes_.emplace(ref.ino, std::move(i));
  return ref;
}

void Model::maybe_free(Ino ino) {
  if (ino == kRootIno) return;
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  const Inode& i = *it->second;
  if (i.vlinks == 0 && i.dlinks == 0 && i.pending == 0 && i.nlookup == 0) inodes_.erase(it);
}

void Model::forget(Ino ino, std::uint64_t n) {
  if (auto* i = get(ino)) {
    i->nlookup -= std::min(i->nlookup, n);
    maybe_free(ino);
  }
}

int Model::dir_of(Ino ino, Inode*& out) {
  out = get(ino);
  if (!out) return ENOENT;
  if (!out->dir) return ENOTDIR;
  return 0;
}

bool Model::is_ancestor(Ino a, Ino d) const {
  for (int depth = 0; depth < 4096; ++depth) {
    if (d == a) return true;
    const Inode* i = get(d);
    if (!i || d == kRootIno) return false;
    d = i->parent;
  }
  return false;
}

std::size_t Model::dirty_files() const {
  return static_cast<std::size_t>(std::count_if(inodes_.begin(), inodes_.end(),
                                                [](const auto& kv) { return kv.second->dirty; }));
}

std::string Model::path_of(Ino ino) const {
  std::string out;
  for (int depth = 0; depth < 256 && ino != kRootIno; ++depth) {
    const Inode* i = get(ino);
    if (!i) return "?" + out;
    out = "/" + (i->hint_name.empty() ? "#" + std::to_string(ino) : i->hint_name) + out;
    ino = i->hint_parent;
    if (ino == 0) return "(anonymous)" + out;
  }
  return out.empty() ? "/" : out;
}

// ---- Model: volatile namespace -------------------------------------------------------------

void Model::log_op(NsOp op) {
  if (op.kind != NsOp::Remove) ++get(op.target)->pending;
  pending_.push_back(std::move(op));
}

int Model::lookup(Ino parent, const std::string& name, Ino& out) const {
  const Inode* p = get(parent);
  if (!p) return ENOENT;
  if (!p->dir) return ENOTDIR;
  auto it = p->entries.find(name);
  if (it == p->entries.end()) return ENOENT;
  out = it->second;
  return 0;
}

int Model::create(Ino parent, const std::string& name, mode_t mode, uid_t uid, gid_t gid,
                  Ino& out) {
  Inode* p = nullptr;
  if (int e = dir_of(parent, p)) return e;
  if (p->entries.contains(name)) return EEXIST;
  Inode& i = make(false, mode, uid, gid);
  p->entries[name] = i.ino;
  p->mtime = p->ctime = now();
  i.vlinks = 1;
  i.hint_parent = parent;
  i.hint_name = name;
  log_op({NsOp::Add, parent, name, 0, {}, i.ino, {parent}});
  out = i.ino;
  return 0;
}

int Model::mkdir(Ino parent, const std::string& name, mode_t mode, uid_t uid, gid_t gid, Ino& out) {
  Inode* p = nullptr;
  if (int e = dir_of(parent, p)) return e;
  if (p->entries.contains(name)) return EEXIST;
  Inode& i = make(true, mode, uid, gid);
  p->entries[name] = i.ino;
  p->mtime = p->ctime = now();
  ++p->subdirs;
  i.vlinks = 1;
  i.parent = parent;
  i.hint_parent = parent;
  i.hint_name = name;
  log_op({NsOp::Add, parent, name, 0, {}, i.ino, {parent}});
  out = i.ino;
  return 0;
}

int Model::tmpfile(Ino dir, mode_t mode, uid_t uid, gid_t gid, Ino& out) {
  Inode* p = nullptr;
  if (int e = dir_of(dir, p)) return e;
  Inode& i = make(false, mode, uid, gid);
  i.hint_parent = dir;
  i.hint_name = "#tmpfile" + std::to_string(i.ino);
  out = i.ino;
  return 0;  // the kernel holds a reference (the caller's ref()) until the file is closed
}

int Model::link(Ino ino, Ino parent, const std::string& name) {
  Inode* i = get(ino);
  if (!i) return ENOENT;
  if (i->dir) return EPERM;
  Inode* p = nullptr;
  if (int e = dir_of(parent, p)) return e;
  if (p->entries.contains(name)) return EEXIST;
  p->entries[name] = ino;
  p->mtime = p->ctime = now();
  ++i->vlinks;
  i->ctime = now();
  i->hint_parent = parent;
  i->hint_name = name;
  log_op({NsOp::Add, parent, name, 0, {}, ino, {parent}});
  return 0;
}

int Model::unlink(Ino parent, const std::string& name) {
  Inode* p = nullptr;
  if (int e = dir_of(parent, p)) return e;
  auto it = p->entries.find(name);
  if (it == p->entries.end()) return ENOENT;
  Inode* i = get(it->second);
  if (i->dir) return EISDIR;
  const Ino ino = it->second;
  p->entries.erase(it);
  p->mtime = p->ctime = now();
  --i->vlinks;
  i->ctime = now();
  log_op({NsOp::Remove, parent, name, 0, {}, 0, {parent}});
  maybe_free(ino);
  return 0;
}

int Model::rmdir(Ino parent, const std::string& name) {
  Inode* p = nullptr;
  if (int e = dir_of(parent, p)) return e;
  auto it = p->entries.find(name);
  if (it == p->entries.end()) return ENOENT;
  Inode* d = get(it->second);
  if (!d->dir) return ENOTDIR;
  if (!d->entries.empty()) return ENOTEMPTY;
  const Ino ino = it->second;
  p->entries.erase(it);
  p->mtime = p->ctime = now();
  --p->subdirs;
  --d->vlinks;
  // The removed directory is touched too: its emptiness was read, so the unlinks that emptied
  // it are durable no later than the rmdir.
  log_op({NsOp::Remove, parent, name, 0, {}, 0, {parent, ino}});
  maybe_free(ino);
  return 0;
}

int Model::rename(Ino sp, const std::string& sname, Ino dp, const std::string& dname,
                  unsigned flags) {
  if (flags & kRenameExchange) return EINVAL;  // not needed by Taube; not modelled
  Inode* s = nullptr;
  Inode* d = nullptr;
  if (int e = dir_of(sp, s)) return e;
  if (int e = dir_of(dp, d)) return e;
  auto it = s->entries.find(sname);
  if (it == s->entries.end()) return ENOENT;
  const Ino ino = it->second;
  Inode* i = get(ino);
  std::vector<Ino> touched{sp};
  if (dp != sp) touched.push_back(dp);
  Ino replaced = 0;
  if (auto t = d->entries.find(dname); t != d->entries.end()) {
    if (t->second == ino) return 0;  // POSIX: same file, nothing happens
    if (flags & kRenameNoReplace) return EEXIST;
    Inode* old = get(t->second);
    if (i->dir && !old->dir) return ENOTDIR;
    if (!i->dir && old->dir) return EISDIR;
    if (old->dir && !old->entries.empty()) return ENOTEMPTY;
    replaced = t->second;
    if (old->dir) touched.push_back(replaced);
  }
  if (i->dir && is_ancestor(ino, dp)) return EINVAL;  // into its own subtree
  s->entries.erase(sname);
  if (replaced != 0) {
    Inode* old = get(replaced);
    --old->vlinks;
    if (old->dir) --d->subdirs;
  }
  d->entries[dname] = ino;
  if (i->dir && sp != dp) {
    --s->subdirs;
    ++d->subdirs;
    i->parent = dp;
  }
  s->mtime = s->ctime = d->mtime = d->ctime = i->ctime = now();
  i->hint_parent = dp;
  i->hint_name = dname;
  log_op({NsOp::Rename, sp, sname, dp, dname, ino, std::move(touched)});
  if (replaced != 0) maybe_free(replaced);
  return 0;
}

// ---- Model: volatile data ------------------------------------------------------------------

int Model::write(Ino ino, std::uint64_t off, const char* p, std::size_t n) {
  Inode* i = get(ino);
  if (!i) return ENOENT;
  if (i->dir) return EISDIR;
  i->data.write(off, p, n);
  i->dirty = true;
  i->mtime = i->ctime = now();
  return 0;
}

int Model::read(Ino ino, std::uint64_t off, char* p, std::size_t n, std::size_t& got) const {
  const Inode* i = get(ino);
  if (!i) return ENOENT;
  if (i->dir) return EISDIR;
  got = i->data.read(off, p, n);
  return 0;
}

int Model::truncate(Ino ino, std::uint64_t size) {
  Inode* i = get(ino);
  if (!i) return ENOENT;
  if (i->dir) return EISDIR;
  i->data.truncate(size);
  i->dirty = true;
  i->mtime = i->ctime = now();
  return 0;
}

// ---- Model: durability ---------------------------------------------------------------------

void Model::make_data_durable(Inode& i) {
  if (!i.dirty) return;
  i.ddata = i.data;  // copies chunk pointers; later writes copy the chunks they touch
  i.dirty = false;
  ++i.dversion;
}

void Model::fsync_file(Ino ino) {
  if (Inode* i = get(ino); i && !i->dir) make_data_durable(*i);
}

void Model::set_durable(Ino dir, const std::string& name, Ino target) {
  Inode* d = get(dir);
  if (!d) return;
  auto [it, fresh] = d->dentries.try_emplace(name, target);
  if (!fresh) {
    if (it->second == target) return;
    const Ino old = it->second;
    if (Inode* o = get(old)) --o->dlinks;
    it->second = target;
    maybe_free(old);
  }
  if (Inode* t = get(target)) ++t->dlinks;
}

void Model::erase_durable(Ino dir, const std::string& name) {
  Inode* d = get(dir);
  if (!d) return;
  auto it = d->dentries.find(name);
  if (it == d->dentries.end()) return;
  const Ino old = it->second;
  d->dentries.erase(it);
  if (Inode* o = get(old)) --o->dlinks;
  maybe_free(old);
}

void Model::apply(const NsOp& op) {
  switch (op.kind) {
    case NsOp::Add:
      set_durable(op.d1, op.n1, op.target);
      break;
    case NsOp::Remove:
      erase_durable(op.d1, op.n1);
      break;
    case NsOp::Rename:
      // Add first, so the target never drops to no durable name in between (and is not freed).
      set_durable(op.d2, op.n2, op.target);
      erase_durable(op.d1, op.n1);
      break;
  }
  if (op.kind != NsOp::Remove) {
    if (Inode* t = get(op.target)) {
      --t->pending;
      maybe_free(op.target);
    }
  }
}

// Walks the pending log backwards: an operation is included when it touches a directory in
// `dirs`, which then grows by every directory it touches, so each included operation brings
// along every earlier operation on the same directories. Included ones are applied in order.
void Model::fsync_dir(Ino dir) {
  std::set<Ino> dirs{dir};
  std::vector<bool> take(pending_.size(), false);
  bool any = false;
  for (std::size_t k = pending_.size(); k-- > 0;) {
    const auto& t = pending_[k].touched;
    if (std::none_of(t.begin(), t.end(), [&](Ino d) { return dirs.contains(d); })) continue;
    take[k] = true;
    any = true;
    dirs.insert(t.begin(), t.end());
  }
  if (!any) return;
  std::vector<NsOp> rest;
  std::vector<NsOp> now_durable;
  for (std::size_t k = 0; k < pending_.size(); ++k) {
    (take[k] ? now_durable : rest).push_back(std::move(pending_[k]));
  }
  pending_ = std::move(rest);
  for (const auto& op : now_durable) apply(op);
}

void Model::syncfs() {
  std::vector<NsOp> ops;
  ops.swap(pending_);
  for (const auto& op : ops) apply(op);
  for (auto& [ino, i] : inodes_) make_data_durable(*i);
}

// ---- Model: loading ------------------------------------------------------------------------

Ino Model::load_child(Ino parent, const std::string& name, bool dir, mode_t mode, uid_t uid,
                      gid_t gid) {
  Inode& i = make(dir, mode, uid, gid);
  Inode* p = get(parent);
  p->entries[name] = p->dentries[name] = i.ino;
  i.vlinks = i.dlinks = 1;
  i.hint_parent = parent;
  i.hint_name = name;
  if (dir) {
    i.parent = parent;
    ++p->subdirs;
  }
  return i.ino;
}

Ino Model::load_link(Ino parent, const std::string& name, Ino existing) {
  Inode* p = get(parent);
  Inode* i = get(existing);
  p->entries[name] = p->dentries[name] = existing;
  ++i->vlinks;
  ++i->dlinks;
  return existing;
}

}  // namespace crashfs
