// crashfs::Model: an in-memory file system that keeps two images of everything, the volatile one
// (what a process sees: the page cache and the in-memory directory entries of a real kernel) and
// the durable one (what a disk would hold after a power cut). docs/robustness.md ("The power-cut
// file system") states the model and its sources; in short:
//
//  * File data (and size) becomes durable only by fsync/fdatasync of that file or by syncfs.
//  * A namespace operation (create, mkdir, link, unlink, rmdir, rename, naming an O_TMPFILE file)
//    becomes durable only by an fsync of a directory it touches, or by syncfs. Operations are
//    durable in order per directory: fsync of directory d makes durable every pending operation
//    that touches d, together with every earlier pending operation that touches a directory one
//    of those touches (so a rename between two directories is durable as one unit, and an rmdir
//    never overtakes the unlinks that emptied the directory). ext4 (data=ordered) is stronger: any
//    fsync commits its whole journal transaction. The model keeps the weaker rule.
//  * Nothing else is durable: close(), a name's durability without an fsync of the file's data
//    (the name then points at the data last made durable, possibly an empty file), a file fsync
//    without a directory fsync (the data is durable, its new name is not).
//
// Every method returns 0 or a positive errno value. Single-threaded: the caller serialises.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace crashfs {

using Ino = std::uint64_t;
constexpr Ino kRootIno = 1;  // FUSE_ROOT_ID
constexpr std::size_t kChunk = 4096;

// File content in copy-on-write chunks: a durable snapshot is a copy of the chunk pointers, so
// fdatasync of a 32 MiB journal copies 8192 pointers, not 32 MiB. A null chunk reads as zeros.
class Data {
 public:
  std::uint64_t size() const { return size_; }
  void write(std::uint64_t off, const char* p, std::size_t n);
  std::size_t read(std::uint64_t off, char* p, std::size_t n) const;
  void truncate(std::uint64_t n);
  // Chunk i (kChunk bytes, or nullptr for zeros); the caller limits itself to size().
  std::size_t chunks() const { return chunks_.size(); }
  const char* chunk(std::size_t i) const { return chunks_[i] ? chunks_[i]->data() : nullptr; }

 private:
  using Chunk = std::array<char, kChunk>;
  char* writable(std::size_t i);
  std::uint64_t size_ = 0;
  std::vector<std::shared_ptr<Chunk>> chunks_;
};

struct Inode {
  Ino ino = 0;
  bool dir = false;
  mode_t mode = 0;  // permission bits and type; not modelled as volatile (Taube never chmods)
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec atime {
  }, mtime{}, ctime{};
  Data data;                            // volatile content
  Data ddata;                           // durable content
  bool dirty = false;                   // data differs from ddata
  std::uint64_t dversion = 0;           // bumped whenever ddata changes (the backing store's diff)
  std::map<std::string, Ino> entries;   // a directory's volatile entries
  std::map<std::string, Ino> dentries;  // its durable entries
  Ino parent = 0;                       // a directory's volatile parent
  std::uint32_t vlinks = 0;             // volatile names
  std::uint32_t dlinks = 0;             // durable names
  std::uint32_t pending = 0;            // pending namespace operations that name this inode
  std::uint32_t subdirs = 0;            // volatile subdirectories (for st_nlink)
  std::uint64_t nlookup = 0;            // the kernel's references (FUSE lookup count)
  Ino hint_parent = 0;                  // where it was last named, for the sync log
  std::string hint_name;
};

enum class SyncKind { Fsync, Fdatasync, Fsyncdir, Syncfs };
const char* to_string(SyncKind k);

class Model {
 public:
  Model();

  Inode* get(Ino ino);
  const Inode* get(Ino ino) const;

  // Volatile namespace operations (each appends to the pending log).
  int lookup(Ino parent, const std::string& name, Ino& out) const;
  int create(Ino parent, const std::string& name, mode_t mode, uid_t uid, gid_t gid, Ino& out);
  int mkdir(Ino parent, const std::string& name, mode_t mode, uid_t uid, gid_t gid, Ino& out);
  int tmpfile(Ino dir, mode_t mode, uid_t uid, gid_t gid, Ino& out);  // no name, no log entry
  int link(Ino ino, Ino parent, const std::string& name);
  int unlink(Ino parent, const std::string& name);
  int rmdir(Ino parent, const std::string& name);
  int rename(Ino sp, const std::string& sname, Ino dp, const std::string& dname, unsigned flags);

  // Volatile data.
  int write(Ino ino, std::uint64_t off, const char* p, std::size_t n);
  int read(Ino ino, std::uint64_t off, char* p, std::size_t n, std::size_t& got) const;
  int truncate(Ino ino, std::uint64_t size);

  // Durability.
  void fsync_file(Ino ino);  // fsync and fdatasync alike: data and size
  void fsync_dir(Ino dir);
  void syncfs();

  // The kernel's references; an inode with no names (volatile or durable), no pending
  // operation and no reference is freed.
  void ref(Ino ino) {
    if (auto* i = get(ino)) ++i->nlookup;
  }
  void forget(Ino ino, std::uint64_t n);

  // For loading a backing directory: an inode that is durable and volatile alike.
  Ino load_child(Ino parent, const std::string& name, bool dir, mode_t mode, uid_t uid, gid_t gid);
  Ino load_link(Ino parent, const std::string& name, Ino existing);

  std::string path_of(Ino ino) const;  // best effort, for logs
  std::size_t pending_ops() const { return pending_.size(); }
  std::size_t dirty_files() const;
  std::size_t inode_count() const { return inodes_.size(); }

 private:
  struct NsOp {
    enum Kind { Add, Remove, Rename } kind;
    Ino d1;
    std::string n1;
    Ino d2;  // Rename: the target directory
    std::string n2;
    Ino target;                // the inode named (Add, Rename)
    std::vector<Ino> touched;  // directories whose entries it reads or changes
  };
  Inode& make(bool dir, mode_t mode, uid_t uid, gid_t gid);
  void log_op(NsOp op);
  void apply(const NsOp& op);
  void set_durable(Ino dir, const std::string& name, Ino target);
  void erase_durable(Ino dir, const std::string& name);
  void maybe_free(Ino ino);
  void make_data_durable(Inode& i);
  int dir_of(Ino ino, Inode*& out);
  bool is_ancestor(Ino a, Ino d) const;  // a is d or above it (volatile tree)

  std::unordered_map<Ino, std::unique_ptr<Inode>> inodes_;
  std::vector<NsOp> pending_;
  Ino next_ino_ = kRootIno + 1;
};

}  // namespace crashfs
