// DestinationStats: how the outbound queue's attempts towards each destination (a next hop's
// key, queue/route.hpp Nexthop::key(), the unit the queue runner schedules by) ended, over the
// last hour in one-minute buckets and since start. The console's Destinations view and
// `taube queue destinations` read it (Postfix's qshape shows the queue's shape; this adds the
// health that qshape cannot see: what the attempts met).
//
// Pure: the caller passes the time (unix seconds) of every event and of every question, so a
// test moves the clock by hand. Bounded: at most max_destinations are tracked, each in a fixed
// ring of 60 buckets (~1.5 KiB); when a new one needs room, the least recently used one the
// caller calls idle (no connection, nothing waiting) is forgotten, else the least recently used
// one. Not thread safe: the queue runner's event loop owns it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace taube::queue {

// What one event was. Recipients' results count per recipient, as the log's status= lines do;
// openings that failed count per connection tried.
enum class AttemptKind : std::uint8_t {
  Delivered,        // a recipient accepted (2xx to the end of data)
  Deferred,         // a recipient answered 4xx (or the connection broke after the data)
  Bounced,          // a recipient answered 5xx, or failed here for the destination (no such
                    // domain, 8-bit content to a 7-bit server)
  ConnectionError,  // an opening failed before MAIL: connect, greeting, EHLO, timeout, DNS
  TlsFailure,       // STARTTLS refused or not offered when required, handshake failed
};
inline constexpr std::size_t kAttemptKinds = 5;
// "delivered", "deferred", "bounced", "connection_errors", "tls_failures" (the JSON names).
std::string_view attempt_kind_name(AttemptKind k);

using AttemptCounts = std::array<std::uint64_t, kAttemptKinds>;

// One destination's record, as a snapshot reads it.
struct DestinationHistory {
  std::string key;
  AttemptCounts last_hour{};  // the current minute and the 59 before it
  AttemptCounts total{};      // since the destination was first tracked
  std::int64_t first_seen = 0;
  std::int64_t last_seen = 0;     // its latest event
  std::int64_t last_success = 0;  // 0: none
  std::int64_t last_failure = 0;  // of any kind but Delivered; 0: none
  std::string last_error;         // that failure's reply or reason (one line, at most 512 octets)
};

class DestinationStats {
 public:
  static constexpr std::size_t kMinutes = 60;
  static constexpr std::size_t kDefaultMaxDestinations = 1000;
  static constexpr std::size_t kMaxErrorText = 512;
  // Says whether the destination of this key may be forgotten (no connection open, no mail
  // waiting for one). Empty: every one may.
  using IdlePredicate = std::function<bool(const std::string& key)>;

  explicit DestinationStats(std::size_t max_destinations = kDefaultMaxDestinations);

  // `n` events of `kind` for `key` at `now`. `error` (failures only) becomes last_error. A new
  // key beyond the cap first makes room (see the file comment), asking `idle`.
  void record(const std::string& key, AttemptKind kind, std::int64_t now, std::uint64_t n = 1,
              std::string_view error = {}, const IdlePredicate& idle = {});

  // The record of `key` as at `now`; nothing when it is not tracked.
  std::optional<DestinationHistory> get(const std::string& key, std::int64_t now) const;
  // Every tracked record as at `now`, most recently used first.
  std::vector<DestinationHistory> all(std::int64_t now) const;

  std::size_t size() const { return index_.size(); }
  std::size_t max_destinations() const { return max_; }
  // Destinations forgotten to stay within the cap, since start.
  std::uint64_t evicted() const { return evicted_; }

 private:
  struct Minute {
    std::uint32_t minute = 0;  // unix minute of these counts; 0: never used
    std::array<std::uint32_t, kAttemptKinds> n{};
  };
  struct Record {
    std::string key;
    std::array<Minute, kMinutes> ring{};
    AttemptCounts total{};
    std::int64_t first_seen = 0, last_seen = 0, last_success = 0, last_failure = 0;
    std::string last_error;
  };
  using List = std::list<Record>;

  DestinationHistory view(const Record& r, std::int64_t now) const;
  void make_room(const IdlePredicate& idle);

  std::size_t max_;
  List lru_;  // most recently used first
  std::unordered_map<std::string, List::iterator> index_;
  std::uint64_t evicted_ = 0;
};

}  // namespace taube::queue
