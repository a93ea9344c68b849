// ActivitySeries: what the console's overview plots, messages received / delivered / deferred /
// bounced and commands rejected per minute over the last hours, and the sessions behind the TLS
// share: inbound SMTP sessions and those that did STARTTLS, outbound connections opened and those
// over TLS. Fed by the same events as the log lines and /metrics (events::Transaction, Delivery,
// Rejected, Connected, TlsEstablished, OutboundOpened), counted per minute of
// Unix time in a ring of `minutes` slots; time is passed in, so it is pure and tested with any
// clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace taube::console {

enum class Activity {
  Received,
  Delivered,
  Deferred,
  Bounced,
  Rejected,
  SessionsIn,  // inbound SMTP connections accepted
  TlsIn,       // inbound sessions that completed a TLS handshake (STARTTLS or implicit)
  OpenedOut,   // outbound connections opened (the session reached EHLO)
  TlsOut,      // ... of them over TLS
};
inline constexpr std::size_t kActivities = 9;
const char* activity_name(Activity a);  // "received", ...

class ActivitySeries {
 public:
  explicit ActivitySeries(std::size_t minutes = 360) : slots_(minutes) {}

  void add(Activity a, std::int64_t unix_seconds, std::uint64_t n = 1);

  struct Snapshot {
    std::int64_t first_minute = 0;  // unix seconds of the first slot's start
    std::array<std::vector<std::uint64_t>, kActivities> counts;  // oldest first
  };
  // The last `minutes` minutes up to and including the one of `now` (at most the ring's size).
  Snapshot snapshot(std::int64_t now, std::size_t minutes) const;

 private:
  struct Slot {
    std::int64_t minute = -1;  // which minute this slot holds (stale when it is not the asked one)
    std::array<std::uint64_t, kActivities> counts{};
  };
  std::vector<Slot> slots_;
};

}  // namespace taube::console
