#include "store/queue_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "store/durable_file.hpp"

namespace taube::store {
namespace {

// One readdir pass, no stat: a queue of a million items is listed in well under a second.
std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

tl::expected<std::string, StoreError> read_all(Fs& fs, const std::string& path,
                                               std::size_t limit = SIZE_MAX) {
  int fd = fs.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(error_from_errno(errno));
  std::string out;
  char buf[65536];
  while (out.size() < limit) {
    ssize_t n = fs.read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      fs.close(fd);
      return tl::unexpected(error_from_errno(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  fs.close(fd);
  return out;
}

}  // namespace

QueueStore::QueueStore(std::string dir, Fs& fs)
    : dir_([&] {
        while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
        return std::move(dir);
      }()),
      fs_(fs),
      sync_(fs, dir_),
      inflight_(dir_, fs) {}

QueueStore::~QueueStore() {
  close_journal();
}

tl::expected<void, StoreError> QueueStore::file(MaildirStore::Message& msg,
                                                std::string_view envelope) {
  tl::expected<void, StoreError> dirs;
  std::call_once(ensured_, [&] { dirs = ensure(); });
  if (!dirs) return dirs;
  return link_item(msg.file(), msg.unique_name(), envelope);
}

tl::expected<void, StoreError> QueueStore::link_item(DurableFile& msg, const std::string& name,
                                                     std::string_view envelope) {
  auto env = DurableFile::create_anonymous(fs_, dir_ + "/tmp", dir_ + "/tmp/" + name + ".env");
  if (!env) return tl::unexpected(env.error());
  if (auto w = env->write(envelope); !w) return w;
  // 1. Both contents, with everything else committed meanwhile.
  if (auto s = sync_.sync(); !s) return s;
  // 2. The names: the envelope's first, so that no reader (nor a crash) sees a message without
  //    its envelope.
  auto env_name = env->link_durable({envelope_path(name)});
  if (!env_name) return tl::unexpected(env_name.error());
  auto msg_name = msg.link_durable({message_path(name)});
  if (!msg_name) {
    fs_.unlink(envelope_path(name));
    return tl::unexpected(msg_name.error());
  }
  // 3. The names' durability: after this the item survives a power cut, and the 250 may go.
  if (auto s = sync_.sync(); !s) {
    fs_.unlink(message_path(name));
    fs_.unlink(envelope_path(name));
    return s;
  }
  tidy(false);  // the flushes also covered earlier removals
  return {};
}

tl::expected<void, StoreError> QueueStore::ensure() {
  if (auto r = make_directories(fs_, dir_); !r) return r;
  bool created = false;
  for (const char* sub : {"/tmp", "/new", "/env", "/corrupt", "/transcripts"}) {
    if (fs_.mkdir(dir_ + sub, 0700) == 0)
      created = true;
    else if (errno != EEXIST)
      return tl::unexpected(error_from_errno(errno));
  }
  if (created) return fsync_directory(fs_, dir_);
  return {};
}

tl::expected<QueueScan, StoreError> QueueStore::scan() {
  auto survey = this->survey();
  if (!survey) return tl::unexpected(survey.error());
  QueueScan out;
  out.corrupt = std::move(survey->corrupt);
  out.incomplete = std::move(survey->incomplete);
  for (auto& name : survey->names) {
    auto item = load_item(name);
    if (item.status == LoadedItem::Status::Error) return tl::unexpected(*item.error);
    if (item.status == LoadedItem::Status::Corrupt) {
      out.corrupt.push_back(std::move(item.problem));
      continue;
    }
    struct ::stat st {};
    const std::uint64_t size =
        fs_.stat(message_path(name), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    out.items.push_back({std::move(name), std::move(item.envelope), size});
  }
  std::sort(out.corrupt.begin(), out.corrupt.end());  // by name, whichever half found them
  return out;
}

tl::expected<QueueSurvey, StoreError> QueueStore::survey() {
  if (auto r = ensure(); !r) return tl::unexpected(r.error());
  QueueSurvey out;
  for (const auto& t : list(dir_ + "/tmp")) fs_.unlink(dir_ + "/tmp/" + t);
  bool removed = false;
  // Both listings sorted: one merge pass pairs each envelope with its message.
  const auto envs = list(dir_ + "/env");
  const auto msgs = list(dir_ + "/new");
  std::size_t i = 0, j = 0;
  while (i < envs.size() || j < msgs.size()) {
    if (j >= msgs.size() || (i < envs.size() && envs[i] < msgs[j])) {
      // An envelope without a message: a crash before the 250 (or during a removal).
      fs_.unlink(envelope_path(envs[i]));
      out.incomplete.push_back(envs[i]);
      removed = true;
      ++i;
    } else if (i >= envs.size() || msgs[j] < envs[i]) {
      // A message without an envelope cannot happen (the envelope is published first), except
      // by an operator's hand: it cannot be delivered (no recipients), so it goes to corrupt/.
      out.corrupt.push_back(msgs[j] + ": message without envelope");
      if (fs_.rename(message_path(msgs[j]), dir_ + "/corrupt/" + msgs[j]) != 0)
        return tl::unexpected(error_from_errno(errno));
      removed = true;
      ++j;
    } else {
      out.names.push_back(envs[i]);
      ++i;
      ++j;
    }
  }
  // A transcript whose item is gone: remove() unlinks it without an fsync (it is information,
  // not mail), but its name may have become durable earlier, with the rename out of tmp/ of a
  // later update() (the file system commits the operations on tmp/ in order). A power cut after
  // the removal then brings it back; nothing else would ever delete it. Not fsynced either: if
  // this unlink is lost too, the next scan repeats it.
  for (const auto& name : list(dir_ + "/transcripts"))
    if (!std::binary_search(out.names.begin(), out.names.end(), name))
      fs_.unlink(transcript_path(name));
  if (removed) {
    if (auto r = fsync_directory(fs_, dir_ + "/env"); !r) return tl::unexpected(r.error());
    if (auto r = fsync_directory(fs_, dir_ + "/corrupt"); !r) return tl::unexpected(r.error());
  }
  return out;
}

LoadedItem QueueStore::load_item(const std::string& name) {
  LoadedItem out;
  auto text = read_all(fs_, envelope_path(name));
  if (!text) {
    out.error = text.error();
    return out;
  }
  auto env = queue::decode_envelope(*text);
  if (!env) {
    if (auto m = move_corrupt(name); !m) {
      out.error = m.error();
      return out;
    }
    out.status = LoadedItem::Status::Corrupt;
    out.problem = name + ": " + env.error();
    return out;
  }
  out.status = LoadedItem::Status::Ok;
  out.text = std::move(*text);
  out.envelope = std::move(*env);
  return out;
}

tl::expected<void, StoreError> QueueStore::move_corrupt(const std::string& name) {
  const std::string to = dir_ + "/corrupt/" + name;
  if (fs_.rename(envelope_path(name), to + ".env") != 0)
    return tl::unexpected(error_from_errno(errno));
  if (fs_.rename(message_path(name), to) != 0 && errno != ENOENT)
    return tl::unexpected(error_from_errno(errno));
  // Moved, not lost: the new names must be durable before the old ones may vanish.
  if (auto r = fsync_directory(fs_, dir_ + "/corrupt"); !r) return r;
  if (auto r = fsync_directory(fs_, dir_ + "/env"); !r) return r;
  return fsync_directory(fs_, dir_ + "/new");
}

tl::expected<queue::QueueEnvelope, std::string> QueueStore::load(const std::string& name) {
  {
    std::lock_guard lk(jmu_);
    if (auto it = journalled_.find(name); it != journalled_.end())
      return queue::decode_envelope(it->second.envelope);
  }
  auto text = read_all(fs_, envelope_path(name));
  if (!text) return tl::unexpected(std::string("cannot read ") + envelope_path(name));
  return queue::decode_envelope(*text);
}

tl::expected<std::string, StoreError> QueueStore::read_message(const std::string& name,
                                                               std::size_t limit) {
  {
    std::lock_guard lk(jmu_);
    if (auto it = journalled_.find(name); it != journalled_.end())
      return it->second.content->substr(0, limit);
  }
  return read_all(fs_, message_path(name), limit);
}

MessageFile::~MessageFile() {
  if (fd_ >= 0) fs_->close(fd_);
}

tl::expected<std::string, StoreError> MessageFile::read(std::uint64_t offset, std::size_t n) const {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = fs_->pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return tl::unexpected(error_from_errno(errno));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

tl::expected<std::optional<MessageFile>, StoreError> QueueStore::open_large_message(
    const std::string& name, std::uint64_t threshold) {
  {
    std::lock_guard lk(jmu_);
    if (journalled_.contains(name)) return std::nullopt;
  }
  int fd = fs_.open(message_path(name), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(error_from_errno(errno));
  struct ::stat st {};
  if (fs_.fstat(fd, &st) != 0) {
    const int e = errno;
    fs_.close(fd);
    return tl::unexpected(error_from_errno(e));
  }
  if (static_cast<std::uint64_t>(st.st_size) <= threshold) {
    fs_.close(fd);
    return std::nullopt;
  }
  return MessageFile(fs_, fd, static_cast<std::uint64_t>(st.st_size));
}

tl::expected<void, StoreError> QueueStore::update(const std::string& name,
                                                  const queue::QueueEnvelope& env) {
  // Still in the journal only: written out now, with its new state (then the record goes).
  if (auto j = claim(name)) {
    std::vector<Outgoing> one(1);
    one[0].name = name;
    one[0].item = std::move(*j);
    one[0].item.envelope = queue::encode_envelope(env);
    write_out(one);
    if (one[0].linked) return {};
    // Not written: it stays in the journal with its new state, for the publisher's retry.
    std::lock_guard lk(jmu_);
    journalled_bytes_ += one[0].item.content->size();
    jorder_.push_back(name);
    journalled_.emplace(name, std::move(one[0].item));
    return tl::unexpected(StoreError::Io);
  }
  const std::string tmp = dir_ + "/tmp/" + name + ".env";
  fs_.unlink(tmp);  // a previous update of this item that failed half-way
  auto f = DurableFile::create(fs_, tmp);
  if (!f) return tl::unexpected(f.error());
  if (auto w = f->write(queue::encode_envelope(env)); !w) return w;
  int fd = f->fd();
  if (fs_.fsync(fd) != 0) {
    int e = errno;
    f->abort();
    return tl::unexpected(error_from_errno(e));
  }
  // rename() over the old envelope is atomic: a reader (or a crash) sees the old or the new.
  // link_durable would refuse an existing name, so the temp name is renamed by hand.
  if (fs_.rename(tmp, envelope_path(name)) != 0) {
    int e = errno;
    f->abort();
    return tl::unexpected(error_from_errno(e));
  }
  f->abort();  // closes; the temp name is gone already
  return fsync_directory(fs_, dir_ + "/env");
}

tl::expected<void, StoreError> QueueStore::remove(const std::string& name) {
  // Still in the journal only: nothing on disk but its record, which is released.
  if (auto j = claim(name)) {
    fs_.unlink(transcript_path(name));
    finished({{j->seq, name}});
    return {};
  }
  fs_.unlink(transcript_path(name));
  if (fs_.unlink(message_path(name)) != 0 && errno != ENOENT)
    return tl::unexpected(error_from_errno(errno));
  // The envelope goes once the message's removal is durable, with the next shared flush that
  // someone runs anyway (a submission's 250, or tidy()): waiting for one here would cost every
  // delivery a flush. Until then a power cut may bring the message back, and it is delivered
  // again: SMTP's at-least-once window (RFC 5321 §6.1), kept short by tidy().
  {
    std::lock_guard lk(removed_mu_);
    removed_.emplace_back(sync_.epoch(), name);
  }
  tidy(false);
  return {};
}

std::size_t QueueStore::tidy(bool flush) {
  if (flush) persist_journal();
  {
    std::lock_guard lk(removed_mu_);
    if (removed_.empty()) return 0;
  }
  if (flush) sync_.sync();  // a failure leaves them waiting for the next one
  std::vector<std::string> ready;
  std::size_t left = 0;
  {
    std::lock_guard lk(removed_mu_);
    while (!removed_.empty() && sync_.durable_since(removed_.front().first)) {
      ready.push_back(std::move(removed_.front().second));
      removed_.pop_front();
    }
    left = removed_.size();
  }
  // Not fsynced: if a power cut brings one back, it has no message and scan() removes it.
  for (const auto& name : ready) fs_.unlink(envelope_path(name));
  return left;
}

void QueueStore::save_transcript(const std::string& name, std::string_view text) {
  const std::string tmp = dir_ + "/tmp/" + name + ".transcript";
  int fd = fs_.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = fs_.write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  fs_.close(fd);
  if (done == text.size())
    fs_.rename(tmp, transcript_path(name));
  else
    fs_.unlink(tmp);
}

std::string QueueStore::read_transcript(const std::string& name) {
  auto t = read_all(fs_, transcript_path(name));
  return t ? *t : std::string();
}

}  // namespace taube::store
