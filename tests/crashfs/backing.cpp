// crashfs::Backing: loading the backing directory into a Model and writing the durable image
// back (backing.hpp).
#include "backing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

namespace crashfs {

namespace {

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

std::string Backing::load(Model& m) {
  written_.clear();
  struct ::stat st {};
  if (::stat(dir_.c_str(), &st) != 0) return sys_error("stat", dir_);
  if (!S_ISDIR(st.st_mode)) return dir_ + " is not a directory";
  Inode* root = m.get(kRootIno);
  root->mode = st.st_mode;
  root->uid = st.st_uid;
  root->gid = st.st_gid;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Ino> seen;
  return load_dir(m, kRootIno, "", seen);
}

std::string Backing::load_dir(Model& m, Ino ino, const std::string& rel,
                              std::map<std::pair<std::uint64_t, std::uint64_t>, Ino>& seen) {
  const std::string here = abs(rel.empty() ? "/" : rel);
  DIR* d = ::opendir(here.c_str());
  if (!d) return sys_error("opendir", here);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
      names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& name : names) {
    const std::string r = rel + "/" + name;
    struct ::stat st {};
    if (::lstat(abs(r).c_str(), &st) != 0) return sys_error("lstat", abs(r));
    if (S_ISDIR(st.st_mode)) {
      Ino c = m.load_child(ino, name, true, st.st_mode, st.st_uid, st.st_gid);
      written_[r] = {c, 0, true};
      if (auto e = load_dir(m, c, r, seen); !e.empty()) return e;
      continue;
    }
    if (!S_ISREG(st.st_mode)) return abs(r) + ": only regular files and directories are supported";
    const auto key = std::make_pair(static_cast<std::uint64_t>(st.st_dev),
                                    static_cast<std::uint64_t>(st.st_ino));
    if (auto it = seen.find(key); it != seen.end()) {
      m.load_link(ino, name, it->second);
      written_[r] = {it->second, m.get(it->second)->dversion, false};
      continue;
    }
    Ino c = m.load_child(ino, name, false, st.st_mode, st.st_uid, st.st_gid);
    seen[key] = c;
    Inode* i = m.get(c);
    int fd = ::open(abs(r).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open", abs(r));
    std::vector<char> buf(1 << 20);
    std::uint64_t off = 0;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        ::close(fd);
        return sys_error("read", abs(r));
      }
      if (n == 0) break;
      i->data.write(off, buf.data(), static_cast<std::size_t>(n));
      off += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    i->ddata = i->data;
    written_[r] = {c, i->dversion, false};
  }
  return "";
}

std::string Backing::write_file(const Inode& i, const std::string& rel) {
  const std::string p = abs(rel);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, i.mode & 07777);
  if (fd < 0) return sys_error("open", p);
  const Data& d = i.ddata;
  static const std::vector<char> zeros(kChunk, '\0');
  std::uint64_t left = d.size();
  for (std::size_t c = 0; left > 0; ++c) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk));
    const char* src = c < d.chunks() && d.chunk(c) ? d.chunk(c) : zeros.data();
    if (!write_all(fd, src, n)) {
      ::close(fd);
      return sys_error("write", p);
    }
    left -= n;
  }
  ::fchmod(fd, i.mode & 07777);
  if (::close(fd) != 0) return sys_error("close", p);
  return "";
}

std::string Backing::store(const Model& m) {
  // What the durable image holds: every name reachable from the root through durable entries.
  std::map<std::string, Ino> want;
  std::set<Ino> visited{kRootIno};
  std::vector<std::pair<Ino, std::string>> todo{{kRootIno, ""}};
  while (!todo.empty()) {
    auto [ino, rel] = todo.back();
    todo.pop_back();
    const Inode* d = m.get(ino);
    if (!d) continue;
    for (const auto& [name, child] : d->dentries) {
      const Inode* c = m.get(child);
      if (!c) continue;
      const std::string r = rel + "/" + name;
      if (c->dir && !visited.insert(child).second) continue;  // never twice (no cycles)
      want[r] = child;
      if (c->dir) todo.emplace_back(child, r);
    }
  }
  // 1. Remove what is no longer there (or is another inode now); descendants sort after their
  //    ancestors, so the reverse order empties a directory before removing it.
  for (auto it = written_.rbegin(); it != written_.rend();) {
    const auto& [rel, w] = *it;
    auto wt = want.find(rel);
    const Inode* now = wt == want.end() ? nullptr : m.get(wt->second);
    if (now && wt->second == w.ino && now->dir == w.dir) {
      ++it;
      continue;
    }
    const std::string p = abs(rel);
    if ((w.dir ? ::rmdir(p.c_str()) : ::unlink(p.c_str())) != 0 && errno != ENOENT)
      return sys_error(w.dir ? "rmdir" : "unlink", p);
    it = decltype(it)(written_.erase(std::next(it).base()));
  }
  // 2. Directories, parents first.
  for (const auto& [rel, ino] : want) {
    const Inode* i = m.get(ino);
    if (!i->dir || written_.contains(rel)) continue;
    if (::mkdir(abs(rel).c_str(), i->mode & 07777) != 0 && errno != EEXIST)
      return sys_error("mkdir", abs(rel));
    written_[rel] = {ino, 0, true};
  }
  // 3. Files: the content once per inode (rewritten where an older version is on disk), then
  //    the other names as hard links.
  std::map<Ino, std::vector<std::string>> names;
  for (const auto& [rel, ino] : want) {
    if (!m.get(ino)->dir) names[ino].push_back(rel);
  }
  for (const auto& [ino, paths] : names) {
    const Inode& i = *m.get(ino);
    std::string have;  // a path that already holds this inode
    for (const auto& p : paths) {
      if (written_.contains(p)) {
        have = p;
        break;
      }
    }
    if (have.empty() || written_[have].version != i.dversion) {
      if (have.empty()) have = paths.front();
      if (auto e = write_file(i, have); !e.empty()) return e;
    }
    for (auto& [rel, w] : written_) {
      if (!w.dir && w.ino == ino) w.version = i.dversion;
    }
    written_[have] = {ino, i.dversion, false};
    for (const auto& p : paths) {
      if (written_.contains(p)) continue;
      if (::link(abs(have).c_str(), abs(p).c_str()) != 0) return sys_error("link", abs(p));
      written_[p] = {ino, i.dversion, false};
    }
  }
  return "";
}

}  // namespace crashfs
