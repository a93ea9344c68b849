#include "console/activity.hpp"

#include <algorithm>

namespace taube::console {

const char* activity_name(Activity a) {
  switch (a) {
    case Activity::Received:
      return "received";
    case Activity::Delivered:
      return "delivered";
    case Activity::Deferred:
      return "deferred";
    case Activity::Bounced:
      return "bounced";
    case Activity::Rejected:
      return "rejected";
    case Activity::SessionsIn:
      return "sessions_in";
    case Activity::TlsIn:
      return "tls_in";
    case Activity::OpenedOut:
      return "opened_out";
    case Activity::TlsOut:
      return "tls_out";
  }
  return "other";
}

void ActivitySeries::add(Activity a, std::int64_t unix_seconds, std::uint64_t n) {
  if (slots_.empty() || unix_seconds < 0) return;
  const std::int64_t minute = unix_seconds / 60;
  Slot& s = slots_[static_cast<std::size_t>(minute) % slots_.size()];
  if (s.minute != minute) {
    // A slot from an older lap of the ring (or a clock stepped back): it starts again.
    if (s.minute > minute) return;
    s.minute = minute;
    s.counts.fill(0);
  }
  s.counts[static_cast<std::size_t>(a)] += n;
}

ActivitySeries::Snapshot ActivitySeries::snapshot(std::int64_t now, std::size_t minutes) const {
  Snapshot out;
  minutes = std::min(minutes, slots_.size());
  const std::int64_t last = now / 60;
  const std::int64_t first = last - static_cast<std::int64_t>(minutes) + 1;
  out.first_minute = first * 60;
  for (auto& c : out.counts) c.assign(minutes, 0);
  for (std::int64_t m = std::max<std::int64_t>(first, 0); m <= last; ++m) {
    const Slot& s = slots_[static_cast<std::size_t>(m) % slots_.size()];
    if (s.minute != m) continue;
    for (std::size_t k = 0; k < kActivities; ++k)
      out.counts[k][static_cast<std::size_t>(m - first)] = s.counts[k];
  }
  return out;
}

}  // namespace taube::console
