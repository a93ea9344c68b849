// MaildirStore: files messages into Maildir directories (https://cr.yp.to/proto/maildir.html).
// One copy is written into the first destination's tmp/, fsynced, and hard-linked into every
// destination's new/ (copied when a destination is on another file system); each new/ is fsynced
// before commit() returns. Files are stored with LF line endings, like Postfix's Maildir delivery.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "store/durable_file.hpp"
#include "store/fs.hpp"
#include "store/store_error.hpp"

namespace taube::store {

class MaildirStore {
 public:
  // `hostname` goes into unique file names (with '/' and ':' escaped as the spec says).
  explicit MaildirStore(std::string hostname, Fs& fs = posix_fs());

  class Message {
   public:
    tl::expected<void, StoreError> write(std::span<const char> data) { return file_.write(data); }
    std::uint64_t size() const { return file_.size(); }
    const std::string& unique_name() const { return unique_; }
    const std::vector<std::string>& maildirs() const { return maildirs_; }
    // <maildir>/new/<unique> for every destination.
    std::vector<std::string> final_paths() const;
    DurableFile& file() { return file_; }

   private:
    friend class MaildirStore;
    Message(DurableFile f, std::string unique, std::vector<std::string> maildirs)
        : file_(std::move(f)), unique_(std::move(unique)), maildirs_(std::move(maildirs)) {}
    DurableFile file_;
    std::string unique_;
    std::vector<std::string> maildirs_;
  };

  // Creates <dir>/{tmp,new,cur} (and parents) with mode 0700 where missing.
  tl::expected<void, StoreError> ensure_maildir(const std::string& dir);

  // Starts a message for the given Maildir directories (duplicates are delivered once). Thread
  // safe: may be called from worker threads.
  tl::expected<Message, StoreError> begin(const std::vector<std::string>& maildirs);
  // The same with a given unique name (redelivery of a journalled message keeps its name, so a
  // copy that did arrive is recognised).
  tl::expected<Message, StoreError> begin(const std::vector<std::string>& maildirs,
                                          std::string unique);

  // Unique names present in <maildir>/new and <maildir>/cur (info suffix ":2,..." stripped).
  std::unordered_set<std::string> delivered_names(const std::string& maildir) const;

  // Makes the message durable in every maildir's new/ (see class comment). On failure nothing is
  // left in any new/ and the tmp/ file is removed.
  tl::expected<void, StoreError> commit(Message& msg);
  void abort(Message& msg);

  // Removes stale files from <maildir>/tmp: anything older than 36 hours (Maildir rule), and at
  // once any file this host's Taube created (its unique names carry a marker) when
  // `own_files_now` is set (start-up, when no transaction can be in flight). Returns the count.
  std::size_t clean_tmp(const std::string& maildir, std::time_t now, bool own_files_now);

  // A new unique name: "<sec>.M<usec>P<pid>Q<seq>_taube.<host>" (Maildir spec).
  std::string unique_name();

  // The syscall seam this store writes through (for callers that read a message back).
  Fs& fs() { return fs_; }

 private:
  struct Ensured;  // which maildirs ensure_maildir() already created (mutex-protected set)

  std::string hostname_;
  Fs& fs_;
  std::shared_ptr<Ensured> ensured_;  // a pointer, so MaildirStore stays movable
};

}  // namespace taube::store
