// MaildirStore: Maildir delivery on top of DurableFile (https://cr.yp.to/proto/maildir.html).
#include "store/maildir_store.hpp"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <unordered_set>

namespace taube::store {

// Maildirs already ensured by this store: begin() runs on several worker threads and would
// otherwise repeat four mkdir() calls per message and recipient.
struct MaildirStore::Ensured {
  std::mutex mu;
  std::unordered_set<std::string> dirs;
};

namespace {

// The marker in Taube's own unique names; clean_tmp() removes such files at start-up.
constexpr std::string_view kMarker = "_taube.";

// Maildir spec: a host name's '/' is written as "\057" and ':' as "\072".
std::string escape_host(std::string_view host) {
  std::string out;
  for (char c : host) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out += c;
    }
  }
  return out;
}

std::string system_hostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// "a/b//" -> "a/b"; "/" stays "/".
std::string strip_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::atomic<std::uint64_t> g_sequence{0};  // process-wide: names stay unique across stores

}  // namespace

MaildirStore::MaildirStore(std::string hostname, Fs& fs)
    : hostname_(escape_host(hostname.empty() ? system_hostname() : hostname)),
      fs_(fs),
      ensured_(std::make_shared<Ensured>()) {}

std::string MaildirStore::unique_name() {
  struct timeval tv {};
  ::gettimeofday(&tv, nullptr);
  std::uint64_t seq = g_sequence.fetch_add(1, std::memory_order_relaxed);
  static const pid_t pid = ::getpid();  // a syscall each time otherwise; Taube never forks
  return std::to_string(tv.tv_sec) + ".M" + std::to_string(tv.tv_usec) + "P" + std::to_string(pid) +
         "Q" + std::to_string(seq) + std::string(kMarker) + hostname_;
}

tl::expected<void, StoreError> MaildirStore::ensure_maildir(const std::string& dir_in) {
  const std::string dir = strip_trailing_slashes(dir_in);
  if (dir.empty()) return tl::unexpected(StoreError::Io);

  if (auto r = make_directories(fs_, dir); !r) return r;
  bool subdirs_created = false;
  for (const char* sub : {"/tmp", "/new", "/cur"}) {
    if (fs_.mkdir(dir + sub, 0700) == 0) {
      subdirs_created = true;
    } else if (errno != EEXIST) {
      return tl::unexpected(error_from_errno(errno));
    }
  }
  // New directories are durable only once the directory holding them is fsynced (POSIX promises
  // nothing else): a 250 for the first message to a new user must not vanish with its Maildir.
  if (subdirs_created) {
    if (auto r = fsync_directory(fs_, dir); !r) return r;
  }
  return {};
}

tl::expected<MaildirStore::Message, StoreError> MaildirStore::begin(
    const std::vector<std::string>& maildirs_in) {
  return begin(maildirs_in, unique_name());
}

std::vector<std::string> MaildirStore::Message::final_paths() const {
  std::vector<std::string> finals;
  finals.reserve(maildirs_.size());
  for (const auto& d : maildirs_) finals.push_back(d + "/new/" + unique_);
  return finals;
}

std::unordered_set<std::string> MaildirStore::delivered_names(const std::string& maildir) const {
  std::unordered_set<std::string> names;
  const std::string dir = strip_trailing_slashes(maildir);
  for (const char* sub : {"/new", "/cur"}) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir + sub, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (auto colon = name.find(':'); colon != std::string::npos) name.resize(colon);
      names.insert(std::move(name));
    }
  }
  return names;
}

tl::expected<MaildirStore::Message, StoreError> MaildirStore::begin(
    const std::vector<std::string>& maildirs_in, std::string unique) {
  std::vector<std::string> maildirs;
  for (const auto& m : maildirs_in) {
    auto d = strip_trailing_slashes(m);
    if (d.empty()) return tl::unexpected(StoreError::Io);
    if (std::find(maildirs.begin(), maildirs.end(), d) == maildirs.end()) maildirs.push_back(d);
  }
  if (maildirs.empty()) return tl::unexpected(StoreError::Io);

  for (const auto& d : maildirs) {
    {
      std::lock_guard lock(ensured_->mu);
      if (ensured_->dirs.contains(d)) continue;
    }
    if (auto r = ensure_maildir(d); !r) return tl::unexpected(r.error());
    std::lock_guard lock(ensured_->mu);
    ensured_->dirs.insert(d);
  }

  auto file = DurableFile::create_anonymous(fs_, maildirs.front() + "/tmp",
                                            maildirs.front() + "/tmp/" + unique);
  if (!file) {
    // The directory may have been removed behind our back; forget it so the next begin()
    // creates it again.
    std::lock_guard lock(ensured_->mu);
    ensured_->dirs.erase(maildirs.front());
    return tl::unexpected(file.error());
  }
  return Message(std::move(*file), std::move(unique), std::move(maildirs));
}

tl::expected<void, StoreError> MaildirStore::commit(Message& msg) {
  auto r = msg.file_.publish(msg.final_paths());
  if (!r) {
    std::lock_guard lock(ensured_->mu);
    for (const auto& d : msg.maildirs_) ensured_->dirs.erase(d);
  }
  return r;
}

void MaildirStore::abort(Message& msg) {
  msg.file_.abort();
}

std::size_t MaildirStore::clean_tmp(const std::string& maildir, std::time_t now,
                                    bool own_files_now) {
  constexpr std::time_t kStale = 36 * 60 * 60;  // Maildir spec: tmp/ files older than 36 hours
  const std::string dir = strip_trailing_slashes(maildir) + "/tmp";
  // Own files: the marker followed by this host's (escaped) name, so that a Maildir shared over
  // NFS never loses another host's in-flight files.
  const std::string own = std::string(kMarker) + hostname_;

  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }

  std::size_t removed = 0;
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    struct ::stat st {};
    if (fs_.stat(path, &st) != 0 || S_ISDIR(st.st_mode)) continue;
    bool stale = now - st.st_mtime > kStale;
    // DurableFile's cross-device copies may carry a ".copy" suffix.
    std::string_view n = name;
    if (n.ends_with(".copy")) n.remove_suffix(5);
    bool mine = own_files_now && n.ends_with(own);
    if ((stale || mine) && fs_.unlink(path) == 0) ++removed;
  }
  return removed;
}

}  // namespace taube::store
