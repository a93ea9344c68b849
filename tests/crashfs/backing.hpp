// crashfs::Backing: the "disk". A real directory that holds the durable image of a Model and
// nothing else: it is read into the Model at mount, and written from the Model's durable image
// when the power is cut and when the file system is unmounted (after an implicit sync, as a real
// unmount does). Between those moments it lags behind (it holds an older durable image, never
// anything volatile). Hard links are kept as hard links; file modes are kept; times are not.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model.hpp"

namespace crashfs {

class Backing {
 public:
  explicit Backing(std::string dir) : dir_(std::move(dir)) {}

  // Reads the directory tree into `m` (regular files and directories; anything else is an
  // error). Returns an error message, or "" on success.
  std::string load(Model& m);

  // Makes the directory hold exactly the durable image of `m`: only what changed since the
  // last load/store is written. Returns an error message, or "".
  std::string store(const Model& m);

 private:
  struct Written {
    Ino ino;
    std::uint64_t version;  // the inode's dversion that was written
    bool dir;
  };
  std::string load_dir(Model& m, Ino ino, const std::string& rel,
                       std::map<std::pair<std::uint64_t, std::uint64_t>, Ino>& seen);
  std::string write_file(const Inode& i, const std::string& rel);
  std::string abs(const std::string& rel) const { return dir_ + rel; }

  std::string dir_;
  std::map<std::string, Written> written_;  // relative path ("/a/b") -> what the disk holds
};

}  // namespace crashfs
