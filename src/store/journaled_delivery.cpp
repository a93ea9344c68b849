#include "store/journaled_delivery.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "store/durable_file.hpp"

namespace taube::store {

namespace {

// How long the publisher waits before retrying a message it could not publish.
constexpr std::chrono::seconds kRetryInterval{5};
// When idle for this long, the publisher writes the journal header so released space is reusable.
constexpr std::chrono::milliseconds kIdle{50};
// A batch starts at most this often (unless kBatchFull messages are waiting): every batch costs
// two syncfs and their cache flushes whatever its size, so batches should not be tiny. This is
// how long a message may take to show up in new/ after its 250, at most, under load.
constexpr std::chrono::milliseconds kBatchWindow{20};
constexpr std::size_t kBatchFull = 512;

}  // namespace

JournaledDelivery::JournaledDelivery(MaildirStore& store, std::unique_ptr<DeliveryJournal> journal,
                                     Fs& fs)
    : store_(store), journal_(std::move(journal)), fs_(fs) {}

JournaledDelivery::~JournaledDelivery() {
  stop();
}

void JournaledDelivery::warn(const std::string& what) const {
  if (log_) log_(what);
}

tl::expected<JournaledDelivery::Recovery, StoreError> JournaledDelivery::recover(
    const std::string& rescue_dir) {
  Recovery out;
  std::unordered_map<std::string, std::unordered_set<std::string>> present;
  for (auto& rec : journal_->take_recovered()) {
    std::vector<std::string> missing;
    // A destination kind this version does not deliver goes to the rescue directory whole.
    const bool known = rec.all_known();
    for (const auto& d : rec.maildirs()) {
      auto it = present.find(d);
      if (it == present.end()) it = present.emplace(d, store_.delivered_names(d)).first;
      if (!it->second.contains(rec.unique)) missing.push_back(d);
    }
    if (known && missing.empty()) {
      ++out.present;
      continue;
    }
    auto m = known
                 ? store_.begin(missing, rec.unique)
                 : tl::expected<MaildirStore::Message, StoreError>(tl::unexpected(StoreError::Io));
    if (m && m->write(rec.content) && store_.commit(*m)) {
      ++out.delivered;
      continue;
    }
    if (m) store_.abort(*m);
    // Undeliverable now (a Maildir gone or unwritable): keep it where the administrator finds
    // it, so the journal can be emptied without losing anything.
    if (fs_.mkdir(rescue_dir, 0700) == 0) {
      // A new directory's name is durable once its parent is fsynced.
      if (auto d = fsync_directory(fs_, parent_directory(rescue_dir)); !d)
        return tl::unexpected(d.error());
    } else if (errno != EEXIST) {
      return tl::unexpected(error_from_errno(errno));
    }
    auto f = DurableFile::create(fs_, rescue_dir + "/" + rec.unique + ".tmp");
    if (!f) return tl::unexpected(f.error());
    std::string head = "X-Taube-Rescued-For:";
    for (const auto& d : missing) head += " " + d;
    head += "\n";
    if (auto w = f->write(head); !w) return tl::unexpected(w.error());
    if (auto w = f->write(rec.content); !w) return tl::unexpected(w.error());
    if (auto p = f->publish({rescue_dir + "/" + rec.unique}); !p) return tl::unexpected(p.error());
    warn("journal: message " + rec.unique + " could not be delivered; kept in " + rescue_dir);
    ++out.rescued;
  }
  if (auto r = journal_->reset(); !r) return tl::unexpected(r.error());
  return out;
}

void JournaledDelivery::start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

// Whether every destination's new/ takes a link now. A destination that does not (a broken or
// read-only Maildir) would leave the message stuck in the journal after a 250; the direct path
// reports it to the client instead (451), as without the journal.
bool JournaledDelivery::deliverable(const std::vector<std::string>& maildirs) {
  for (const auto& d : maildirs) {
    const std::string nw = d + "/new";
    struct ::stat st {};
    if (fs_.stat(nw, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    if (::access(nw.c_str(), W_OK | X_OK) != 0) return false;  // also EPERM for chattr +i
  }
  return true;
}

bool JournaledDelivery::accept(std::optional<MaildirStore::Message>& msg,
                               std::string_view content) {
  if (!msg || msg->file().fd() < 0 || !deliverable(msg->maildirs())) return false;
  {
    std::lock_guard lk(mu_);
    if (stopping_ || !thread_.joinable() || outstanding_ >= max_outstanding_) return false;
    ++outstanding_;  // reserved before the append, so the bound holds
  }
  struct ::stat st {};
  auto seq =
      fs_.fstat(msg->file().fd(), &st) == 0
          ? journal_->append(msg->unique_name(), maildir_destinations(msg->maildirs()), content)
          : tl::unexpected(JournalRefusal::Failed);
  std::lock_guard lk(mu_);
  if (!seq) {
    --outstanding_;
    cv_.notify_all();
    return false;
  }
  Entry e;
  e.seq = *seq;
  e.msg = std::move(msg);
  e.dev = st.st_dev;
  msg.reset();
  queue_.push_back(std::move(e));
  if (queue_.size() == 1 || queue_.size() == kBatchFull) cv_.notify_all();
  return true;
}

std::size_t JournaledDelivery::outstanding() const {
  std::lock_guard lk(mu_);
  return outstanding_;
}

void JournaledDelivery::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JournaledDelivery::run() {
  std::vector<Entry> batch;
  auto last_start = std::chrono::steady_clock::now() - kBatchWindow;
  std::unique_lock lk(mu_);
  for (;;) {
    if (stopping_ && queue_.empty() && outstanding_ > 0)  // see the end of the loop
      cv_.wait(lk, [&] { return !queue_.empty() || outstanding_ == 0; });
    const bool idle = !cv_.wait_for(lk, kIdle, [&] { return stopping_ || !queue_.empty(); });
    if (!idle) {
      cv_.wait_until(lk, last_start + kBatchWindow,
                     [&] { return stopping_ || queue_.size() >= kBatchFull; });
    }
    last_start = std::chrono::steady_clock::now();
    batch.swap(queue_);
    const bool stopping = stopping_;
    lk.unlock();

    const std::size_t n = batch.size();
    if (n > 0) publish(batch);
    // Retries: due ones, or all of them once more when stopping.
    const auto now = std::chrono::steady_clock::now();
    for (auto it = retry_.begin(); it != retry_.end();) {
      if (!stopping && it->retry_at > now) {
        ++it;
        continue;
      }
      if (redeliver(*it)) {
        journal_->release(it->seq);
        it = retry_.erase(it);
      } else {
        it->retry_at = now + kRetryInterval;
        ++it;
      }
    }
    for (auto& e : batch) {  // what publish() could not place waits for a retry
      if (e.msg || !e.created.empty()) continue;
      e.retry_at = now + kRetryInterval;
      retry_.push_back(std::move(e));
    }
    batch.clear();
    // Make released space reusable: when worth it, and whenever the publisher has nothing to do.
    if (auto r = journal_->persist(idle || stopping); !r) warn("journal: cannot write its header");

    lk.lock();
    // The batch's descriptors are closed now (retries are read back from the journal).
    outstanding_ -= std::min(outstanding_, n);
    // An accept() that reserved its place before the stop may still be appending: wait for it.
    if (stopping && queue_.empty() && outstanding_ == 0) break;
  }
  lk.unlock();
  if (!retry_.empty()) {
    warn("journal: " + std::to_string(retry_.size()) +
         " message(s) could not be delivered before shutdown; they stay in the journal and are "
         "delivered at the next start");
  }
}

void JournaledDelivery::publish(std::vector<Entry>& batch) {
  // 1. The files' content and inodes: one syncfs per file system, then an fsync for the cache
  //    flush (without a journal, ext4's syncfs writes inode tables after its own flush).
  std::map<dev_t, int> devices;
  for (auto& e : batch) devices.emplace(e.dev, e.msg->file().fd());
  for (const auto& [dev, fd] : devices) {
    if (fs_.syncfs(fd) == 0 && fs_.fsync(fd) == 0) continue;
    // Fall back to an fsync per file of that file system; a file that fails it is retried.
    for (auto& e : batch) {
      if (e.dev != dev || !e.msg) continue;
      if (fs_.fsync(e.msg->file().fd()) != 0) {
        store_.abort(*e.msg);
        e.msg.reset();
      }
    }
  }
  // 2. The names.
  std::vector<Entry*> linked;
  for (auto& e : batch) {
    if (!e.msg) continue;
    auto r = e.msg->file().link_durable(e.msg->final_paths());
    e.msg.reset();
    if (r) {
      e.created = std::move(*r);
      linked.push_back(&e);
    }
  }
  // 3. The names' durability, then the journal records can go.
  if (!make_names_durable(linked)) {
    for (auto* e : linked) {
      for (const auto& p : e->created) fs_.unlink(p);
      e->created.clear();
    }
    warn("journal: cannot make new Maildir entries durable; will retry");
    return;
  }
  for (auto* e : linked) journal_->release(e->seq);
}

// syncfs once per file system of the directories involved (it covers the directory entries and
// the files' new link counts), then fsync of one directory there for the cache flush. Where
// syncfs fails, each directory is fsynced on its own.
bool JournaledDelivery::make_names_durable(std::vector<Entry*>& linked) {
  std::vector<std::string> dirs;
  for (auto* e : linked) {
    for (const auto& p : e->created) {
      auto d = parent_directory(p);
      if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
  }
  std::map<dev_t, int> devices;
  std::vector<std::string> fallback;
  for (const auto& d : dirs) {
    int fd = fs_.open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    struct ::stat st {};
    if (fd < 0 || fs_.fstat(fd, &st) != 0) {
      if (fd >= 0) fs_.close(fd);
      fallback.push_back(d);
      continue;
    }
    if (!devices.emplace(st.st_dev, fd).second) fs_.close(fd);
  }
  bool ok = true;
  for (const auto& [dev, fd] : devices) {
    if (fs_.syncfs(fd) != 0 || fs_.fsync(fd) != 0) {
      for (const auto& d : dirs) fallback.push_back(d);  // which ones is unknown: all of them
    }
    fs_.close(fd);
  }
  for (const auto& d : fallback) {
    if (!fsync_directory(fs_, d)) ok = false;
  }
  return ok;
}

bool JournaledDelivery::redeliver(Entry& e) {
  auto rec = journal_->read(e.seq);
  if (!rec) {
    warn("journal: cannot read back record " + std::to_string(e.seq));
    return false;
  }
  auto m = store_.begin(rec->maildirs(), rec->unique);
  if (m && m->write(rec->content) && store_.commit(*m)) return true;
  if (m) store_.abort(*m);
  warn("journal: delivery of " + rec->unique + " failed again; retrying later");
  return false;
}

}  // namespace taube::store
