// DurableFile: the one primitive for durable writes. A file is created under a temporary name,
// written, fsynced, then published under its final names (link or rename), and each directory
// touched is fsynced, so that after a power cut the file is either complete under its final name
// or absent there. On any failure nothing remains under a final name and the temp file is removed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "store/fs.hpp"
#include "store/store_error.hpp"

namespace taube::store {

class DurableFile {
 public:
  // Creates `tmp_path` (O_CREAT|O_EXCL, mode 0600).
  static tl::expected<DurableFile, StoreError> create(Fs& fs, std::string tmp_path);

  // Creates an anonymous file in `dir` (O_TMPFILE): it has no name until publish() links it,
  // and it vanishes by itself if the process dies first, so a crash leaves nothing to clean.
  // Falls back to create(fallback_tmp_path) where the file system or /proc does not allow it.
  static tl::expected<DurableFile, StoreError> create_anonymous(Fs& fs, const std::string& dir,
                                                                std::string fallback_tmp_path);

  DurableFile(DurableFile&& other) noexcept;
  DurableFile& operator=(DurableFile&& other) noexcept;
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;
  ~DurableFile();  // aborts if neither published nor aborted

  // Appends all of `data` (retrying short writes and EINTR).
  tl::expected<void, StoreError> write(std::span<const char> data);

  // fsyncs the file, then makes it appear under each of `final_paths` (hard link; on EXDEV a
  // durable copy through that path's directory's tmp/ sibling), fsyncs each final directory, and
  // removes the temp name. All or nothing: on failure every final path already created is removed.
  tl::expected<void, StoreError> publish(const std::vector<std::string>& final_paths);

  // For callers that made the content durable themselves (the journal's publisher calls syncfs
  // for a whole batch): gives the file its final names without any fsync, closes it and removes
  // the temp name. Returns the names created; making them durable (fsync of their directories,
  // or syncfs) is the caller's job. On failure nothing is left, as with publish().
  tl::expected<std::vector<std::string>, StoreError> link_durable(
      const std::vector<std::string>& final_paths);

  // The open descriptor (-1 once published or aborted), for fstat/syncfs by the journal.
  int fd() const { return fd_; }

  // Closes and removes the temp file. Idempotent.
  void abort();

  // The temp name; empty for an anonymous file.
  const std::string& tmp_path() const { return tmp_path_; }
  bool anonymous() const { return anonymous_; }
  std::uint64_t size() const { return size_; }

 private:
  DurableFile(Fs& fs, int fd, std::string tmp_path)
      : fs_(&fs), fd_(fd), tmp_path_(std::move(tmp_path)) {}
  Fs* fs_;
  int fd_ = -1;
  std::string tmp_path_;
  std::uint64_t size_ = 0;
  bool finished_ = false;
  bool anonymous_ = false;

  void close_fd();
  tl::expected<void, StoreError> make_links(const std::vector<std::string>& finals,
                                            std::vector<std::string>& created,
                                            std::string& copy_tmp);
  tl::expected<void, StoreError> copy_to(const std::string& source, const std::string& final_path,
                                         std::string& copy_tmp);
};

// fsync of a directory, coalesced with concurrent callers syncing the same directory (one fsync
// that started after the caller's change covers it).
tl::expected<void, StoreError> fsync_directory(Fs& fs, const std::string& dir);

// mkdir -p, durably: creates `dir` and its missing ancestors (mode 0700) and fsyncs the
// directory holding each one it created, so the new names survive a power cut.
tl::expected<void, StoreError> make_directories(Fs& fs, const std::string& dir);

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/".
std::string parent_directory(const std::string& path);

// Maps errno to StoreError (ENOSPC/EDQUOT -> NoSpace, EACCES/EPERM/EROFS -> Permission).
StoreError error_from_errno(int err);

}  // namespace taube::store
