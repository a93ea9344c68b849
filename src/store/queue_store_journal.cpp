// QueueStore's journal: the fast path of queue_store.hpp's class comment.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <unordered_set>

#include "store/queue_store.hpp"

namespace taube::store {
namespace {

// A publisher's write-out that failed is tried again after this long.
constexpr std::chrono::seconds kRetry{5};
// At most this many items per write-out (two shared flushes each, whatever its size).
constexpr std::size_t kBatch = 512;

std::string read_file(Fs& fs, const std::string& path) {
  std::string out;
  int fd = fs.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return out;
  char buf[65536];
  for (;;) {
    ssize_t n = fs.read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  fs.close(fd);
  return out;
}

// "<seq> <name>\n" lines; a torn last line (the crash cut the write) is ignored.
void parse_done(std::string_view text, std::unordered_set<std::uint64_t>& seqs) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    std::uint64_t seq = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), seq);
    if (ec == std::errc() && p != line.data() && p < line.data() + line.size() && *p == ' ')
      seqs.insert(seq);
  }
}

}  // namespace

void QueueStore::warn(const std::string& what) const {
  if (log_) log_(what);
}

std::string QueueStore::done_path(int file) const {
  return dir_ + "/journal.done." + std::to_string(file);
}

tl::expected<JournalRecovery, StoreError> QueueStore::open_journal(std::uint64_t size) {
  if (journal_) return JournalRecovery{};
  if (auto r = ensure(); !r) return tl::unexpected(r.error());
  auto opened = DeliveryJournal::open(fs_, dir_ + "/journal", size);
  if (!opened) return tl::unexpected(opened.error());
  std::unique_ptr<DeliveryJournal> journal = std::move(*opened);

  std::unordered_set<std::uint64_t> done;
  for (int f = 0; f < 2; ++f) parse_done(read_file(fs_, done_path(f)), done);
  JournalRecovery out;
  std::vector<Outgoing> batch;
  for (auto& rec : journal->take_recovered()) {
    if (done.contains(rec.seq)) {
      ++out.finished;
      continue;
    }
    const bool item = rec.destinations.size() == 1 &&
                      rec.destinations[0].kind == JournalDestination::Kind::Queue &&
                      queue::decode_envelope(rec.destinations[0].target).has_value();
    if (!item) {
      // Not a queue item (another version's record, or damage the CRC missed): kept whole for
      // the administrator, so that the journal can be emptied without losing anything.
      auto f = DurableFile::create(fs_, dir_ + "/tmp/" + rec.unique + ".journal");
      if (!f) return tl::unexpected(f.error());
      if (auto w = f->write(rec.content); !w) return tl::unexpected(w.error());
      if (auto p = f->publish({dir_ + "/corrupt/" + rec.unique + ".journal"}); !p)
        return tl::unexpected(p.error());
      out.rescued.push_back(rec.unique);
      continue;
    }
    struct ::stat st {};
    if (fs_.stat(message_path(rec.unique), &st) == 0) {  // written out, its line lost
      ++out.finished;
      continue;
    }
    // An envelope without its message: a crash while the item was being written out (the
    // envelope is linked first). It is written out again whole.
    fs_.unlink(envelope_path(rec.unique));
    Outgoing o;
    o.name = rec.unique;
    o.item.seq = rec.seq;
    o.item.envelope = std::move(rec.destinations[0].target);
    o.item.content = std::make_shared<const std::string>(std::move(rec.content));
    batch.push_back(std::move(o));
  }
  write_files(batch);
  for (const auto& o : batch) {
    if (!o.linked) return tl::unexpected(StoreError::Io);  // the journal keeps them: retry
  }
  out.filed = batch.size();
  // Everything is in files now: the journal starts empty, and so do the lines of its records.
  if (auto r = journal->reset(); !r) return tl::unexpected(r.error());
  for (int f = 0; f < 2; ++f) {
    done_fd_[f] = fs_.open(done_path(f), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (done_fd_[f] < 0) return tl::unexpected(error_from_errno(errno));
  }
  std::lock_guard lk(jmu_);
  journal_ = std::move(journal);
  return out;
}

bool QueueStore::file_journalled(const std::string& name, std::string_view envelope,
                                 std::shared_ptr<const std::string> content) {
  if (!content || envelope.empty() || envelope.size() > 0xffff) return false;
  {
    std::lock_guard lk(jmu_);
    if (!journal_ || jstop_ || journalled_bytes_ + content->size() > kJournalBytes) return false;
    journalled_bytes_ += content->size();  // reserved before the append, so the bound holds
    // The publisher starts with the first item: survey() (start-up) must have run before it.
    if (!publisher_.joinable()) publisher_ = std::thread([this] { publisher(); });
  }
  auto seq =
      journal_->append(name, {{JournalDestination::Kind::Queue, std::string(envelope)}}, *content);
  std::lock_guard lk(jmu_);
  if (!seq) {
    journalled_bytes_ -= content->size();
    return false;
  }
  Journalled j;
  j.seq = *seq;
  j.envelope = std::string(envelope);
  j.content = std::move(content);
  j.since = std::chrono::steady_clock::now();
  journalled_.emplace(name, std::move(j));
  jorder_.push_back(name);
  if (jorder_.size() == 1) jcv_.notify_all();
  return true;
}

std::optional<CommitStats::Snapshot> QueueStore::journal_commits() const {
  std::lock_guard lk(jmu_);
  if (!journal_) return std::nullopt;
  return journal_->commit_stats().snapshot();
}

std::size_t QueueStore::journalled() const {
  std::lock_guard lk(jmu_);
  return journalled_.size();
}

std::optional<QueueStore::Journalled> QueueStore::claim(const std::string& name) {
  std::unique_lock lk(jmu_);
  for (;;) {
    auto it = journalled_.find(name);
    if (it == journalled_.end()) return std::nullopt;
    if (!it->second.writing) {
      Journalled j = std::move(it->second);
      journalled_.erase(it);
      journalled_bytes_ -= j.content->size();
      return j;
    }
    jcv_.wait(lk);  // the publisher is writing it out: then it is an item in files
  }
}

void QueueStore::write_files(std::vector<Outgoing>& batch) {
  tl::expected<void, StoreError> dirs;
  std::call_once(ensured_, [&] { dirs = ensure(); });
  if (!dirs) return;
  std::size_t written = 0;
  for (auto& o : batch) {
    auto msg = DurableFile::create_anonymous(fs_, dir_ + "/tmp", dir_ + "/tmp/" + o.name);
    auto env = DurableFile::create_anonymous(fs_, dir_ + "/tmp", dir_ + "/tmp/" + o.name + ".env");
    if (!msg || !env || !msg->write(*o.item.content) || !env->write(o.item.envelope)) continue;
    o.msg.emplace(std::move(*msg));
    o.env.emplace(std::move(*env));
    ++written;
  }
  if (written == 0) return;
  // The file() protocol for the whole batch: contents, flush, names (envelope first), flush.
  if (!sync_.sync()) {
    for (auto& o : batch) o.msg.reset(), o.env.reset();
    return;
  }
  for (auto& o : batch) {
    if (!o.msg) continue;
    auto e = o.env->link_durable({envelope_path(o.name)});
    if (!e) continue;
    if (!o.msg->link_durable({message_path(o.name)})) {
      fs_.unlink(envelope_path(o.name));
      continue;
    }
    o.linked = true;
  }
  const bool durable = sync_.sync().has_value();
  for (auto& o : batch) {
    o.msg.reset();
    o.env.reset();
    if (o.linked && !durable) {
      fs_.unlink(message_path(o.name));
      fs_.unlink(envelope_path(o.name));
      o.linked = false;
    }
  }
  if (durable) tidy(false);
}

void QueueStore::write_out(std::vector<Outgoing>& batch) {
  write_files(batch);
  std::vector<std::pair<std::uint64_t, std::string>> records;
  for (const auto& o : batch)
    if (o.linked) records.emplace_back(o.item.seq, o.name);
  finished(records);
}

void QueueStore::finished(const std::vector<std::pair<std::uint64_t, std::string>>& records) {
  if (records.empty()) return;
  std::string lines;
  std::uint64_t top = 0;
  for (const auto& [seq, name] : records) {
    lines += std::to_string(seq) + " " + name + "\n";
    top = std::max(top, seq);
  }
  {
    // The lines before the releases, under the lock that rotation takes: a file is emptied only
    // when the journal's durable tail has passed every record it names.
    std::lock_guard lk(done_mu_);
    int& cur = done_current_;
    const int other = 1 - cur;
    int emptied = -1;
    if (done_size_[cur] >= kDoneRotate && journal_->durable_tail_seq() > done_max_[other])
      emptied =
          fs_.open(done_path(other), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (emptied >= 0) {
      fs_.close(done_fd_[other]);
      done_fd_[other] = emptied;
      done_size_[other] = 0;
      done_max_[other] = 0;
      cur = other;
    }
    std::size_t off = 0;
    while (off < lines.size()) {
      ssize_t n = fs_.write(done_fd_[cur], lines.data() + off, lines.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // then a crash files the item again: a duplicate, never a loss
      off += static_cast<std::size_t>(n);
    }
    done_size_[cur] += off;
    done_max_[cur] = std::max(done_max_[cur], top);
  }
  for (const auto& r : records) journal_->release(r.first);
  std::lock_guard lk(jmu_);
  released_ = true;
}

void QueueStore::persist_journal() {
  if (!journal_) return;
  {
    std::lock_guard lk(jmu_);
    if (!released_ || abandoned_) return;
    released_ = false;
  }
  if (!journal_->persist(true)) {
    warn("queue journal: cannot write its header; its space is reused later");
    std::lock_guard lk(jmu_);
    released_ = true;
  }
  // The done lines too: they survive kill -9 without this, but after a power cut every record
  // behind the journal's tail whose line was lost is filed and delivered again. Synced here (at
  // most every 100 ms under load, QueueRunner::tidy_soon), a power cut repeats only the
  // deliveries of the last moments (docs/robustness.md). Under the lock: rotation swaps fds.
  std::lock_guard lk(done_mu_);
  for (const int fd : done_fd_)
    if (fd >= 0) fs_.fdatasync(fd);  // nothing to write in the other one: cheap
}

void QueueStore::publisher() {
  std::unique_lock lk(jmu_);
  for (;;) {
    if (abandoned_) break;
    while (!jorder_.empty() && !journalled_.contains(jorder_.front())) jorder_.pop_front();
    if (jorder_.empty()) {
      if (jstop_) break;
      jcv_.wait(lk);
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    auto& first = journalled_.at(jorder_.front());
    if (!jstop_ && (first.writing || now < first.since + hold_)) {
      jcv_.wait_until(lk, first.writing ? now + kRetry : first.since + hold_);
      continue;
    }
    std::vector<Outgoing> batch;
    while (!jorder_.empty() && batch.size() < kBatch) {
      auto it = journalled_.find(jorder_.front());
      if (it != journalled_.end()) {
        if (!jstop_ && now < it->second.since + hold_) break;
        if (it->second.writing) break;  // a retry further back: behind the others
        it->second.writing = true;
        Outgoing o;
        o.name = it->first;
        o.item.seq = it->second.seq;
        o.item.envelope = it->second.envelope;
        o.item.content = it->second.content;
        batch.push_back(std::move(o));
      }
      jorder_.pop_front();
    }
    lk.unlock();
    write_out(batch);
    persist_journal();
    lk.lock();
    std::size_t failed = 0;
    for (auto& o : batch) {
      auto it = journalled_.find(o.name);
      if (it == journalled_.end()) continue;
      if (o.linked) {
        journalled_bytes_ -= it->second.content->size();
        journalled_.erase(it);
        continue;
      }
      ++failed;
      it->second.writing = false;
      it->second.since = std::chrono::steady_clock::now() + kRetry - hold_;
      jorder_.push_back(o.name);
    }
    jcv_.notify_all();
    if (failed > 0) {
      lk.unlock();
      warn("queue journal: cannot write out " + std::to_string(failed) +
           " item(s) as queue files; they stay in the journal (retried in 5 s, or filed at the "
           "next start)");
      lk.lock();
      if (jstop_) break;
    }
  }
}

void QueueStore::abandon_journal() {
  {
    std::lock_guard lk(jmu_);
    abandoned_ = jstop_ = true;
    journalled_.clear();
    jorder_.clear();
  }
  jcv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
}

void QueueStore::close_journal() {
  {
    std::lock_guard lk(jmu_);
    if (!journal_) return;
    jstop_ = true;
  }
  jcv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  if (!abandoned_) persist_journal();
  std::lock_guard lk(done_mu_);
  for (int& fd : done_fd_) {
    if (fd >= 0) fs_.close(fd);
    fd = -1;
  }
}

}  // namespace taube::store
