#include "queue/destination_stats.hpp"

#include <algorithm>

namespace taube::queue {

namespace {

// Unix minute of a time; a time before 1970 is minute 1 (0 marks an unused bucket).
std::uint32_t minute_of(std::int64_t t) {
  const std::int64_t m = t / 60;
  if (m < 1) return 1;
  if (m > static_cast<std::int64_t>(UINT32_MAX)) return UINT32_MAX;
  return static_cast<std::uint32_t>(m);
}

// One line, bounded: a remote reply is the peer's text, and this is shown in a page.
std::string one_line(std::string_view s, std::size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  for (const char c : s) {
    if (out.size() >= max) break;
    out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string_view attempt_kind_name(AttemptKind k) {
  switch (k) {
    case AttemptKind::Delivered:
      return "delivered";
    case AttemptKind::Deferred:
      return "deferred";
    case AttemptKind::Bounced:
      return "bounced";
    case AttemptKind::ConnectionError:
      return "connection_errors";
    case AttemptKind::TlsFailure:
      return "tls_failures";
  }
  return "deferred";
}

DestinationStats::DestinationStats(std::size_t max_destinations)
    : max_(std::max<std::size_t>(1, max_destinations)) {}

void DestinationStats::make_room(const IdlePredicate& idle) {
  // The least recently used idle one; if every one is busy, the least recently used: the cap
  // holds whatever the callers say.
  auto victim = std::prev(lru_.end());
  if (idle) {
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) {
      if (idle(it->key)) {
        victim = std::prev(it.base());
        break;
      }
    }
  }
  index_.erase(victim->key);
  lru_.erase(victim);
  ++evicted_;
}

void DestinationStats::record(const std::string& key, AttemptKind kind, std::int64_t now,
                              std::uint64_t n, std::string_view error, const IdlePredicate& idle) {
  if (n == 0) return;
  auto found = index_.find(key);
  if (found == index_.end()) {
    if (index_.size() >= max_) make_room(idle);
    lru_.emplace_front();
    lru_.front().key = key;
    lru_.front().first_seen = now;
    found = index_.emplace(key, lru_.begin()).first;
  } else if (found->second != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, found->second);
  }
  Record& r = *found->second;
  const auto k = static_cast<std::size_t>(kind);
  const std::uint32_t m = minute_of(now);
  Minute& bucket = r.ring[m % kMinutes];
  // A bucket of another minute (an hour ago, or ahead after the clock was set back) starts over.
  if (bucket.minute != m) bucket = Minute{m, {}};
  const auto room = static_cast<std::uint64_t>(UINT32_MAX - bucket.n[k]);
  bucket.n[k] += static_cast<std::uint32_t>(std::min(n, room));
  r.total[k] += n;
  r.last_seen = std::max(r.last_seen, now);
  if (kind == AttemptKind::Delivered) {
    r.last_success = std::max(r.last_success, now);
  } else if (now >= r.last_failure) {
    r.last_failure = now;
    if (!error.empty()) r.last_error = one_line(error, kMaxErrorText);
  }
}

DestinationHistory DestinationStats::view(const Record& r, std::int64_t now) const {
  DestinationHistory h;
  h.key = r.key;
  h.total = r.total;
  h.first_seen = r.first_seen;
  h.last_seen = r.last_seen;
  h.last_success = r.last_success;
  h.last_failure = r.last_failure;
  h.last_error = r.last_error;
  const std::uint32_t m = minute_of(now);
  for (const Minute& b : r.ring) {
    // This minute and the 59 before it; buckets stamped ahead of `now` are not "the last hour".
    if (b.minute == 0 || b.minute > m || m - b.minute >= kMinutes) continue;
    for (std::size_t k = 0; k < kAttemptKinds; ++k) h.last_hour[k] += b.n[k];
  }
  return h;
}

std::optional<DestinationHistory> DestinationStats::get(const std::string& key,
                                                        std::int64_t now) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return view(*it->second, now);
}

std::vector<DestinationHistory> DestinationStats::all(std::int64_t now) const {
  std::vector<DestinationHistory> out;
  out.reserve(lru_.size());
  for (const Record& r : lru_) out.push_back(view(r, now));
  return out;
}

}  // namespace taube::queue
