// The Destinations view (docs/console.md "Destinations", `taube queue destinations`): one row
// per destination (next-hop key, queue/route.hpp), joining three things the queue runner knows:
//  * the queue's shape there: messages queued for it by state and age (Postfix's qshape),
//    gathered by DestinationShape from a scan of the queue;
//  * its scheduling state (queue/schedule.hpp DestinationState): connections open and the
//    limit, the hold-back and its end, consecutive failures, the TLS fallback;
//  * its history (queue/destination_stats.hpp): attempts' outcomes over the last hour and
//    since start, the last success, the last error.
// Sorting, paging, the JSON object and the text table are here, so the console and the control
// socket print the same rows. Pure: the time is a parameter.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/census.hpp"
#include "queue/destination_stats.hpp"

namespace taube::queue {

// qshape's age columns, in minutes: < 5, < 10, < 20, ... < 1280, and 1280 or more.
inline constexpr std::array<std::int64_t, 9> kAgeLimits = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
inline constexpr std::size_t kAgeBuckets = kAgeLimits.size() + 1;

struct DestinationRow {
  std::string key;
  // The queue's shape: messages with a queued recipient here (a message with recipients at two
  // destinations counts at both), by QueueState, by age, and their queued recipients.
  std::array<std::size_t, kQueueStates> messages{};
  std::array<std::size_t, kAgeBuckets> ages{};
  std::size_t recipients = 0;
  std::int64_t oldest_arrival = 0;  // 0: nothing queued
  // Scheduling (scheduled: the runner has a DestinationState for it).
  bool scheduled = false;
  std::uint32_t connections = 0;  // being opened or open now
  std::uint32_t limit = 0;        // how many it may have now
  std::uint32_t consecutive_failures = 0;
  std::int64_t held_until = 0;       // held back until then (when > now)
  std::int64_t plaintext_until = 0;  // TLS failed: plaintext until then (when > now)
  std::size_t waiting = 0;           // items due, waiting for a connection
  // History (empty when not tracked).
  DestinationHistory history;

  std::size_t queued() const;
  bool held(std::int64_t now) const { return held_until > now; }
};

// Gathers the rows' shape from a scan of the queue: add() once per message and destination.
class DestinationShape {
 public:
  // A message in state `s` that arrived at `arrival` has `recipients` queued recipients at `key`.
  void add(const std::string& key, QueueState s, std::int64_t arrival, std::size_t recipients,
           std::int64_t now);
  std::map<std::string, DestinationRow>& rows() { return rows_; }

 private:
  std::map<std::string, DestinationRow> rows_;
};

// The domains (xtext decoded) of the queued recipients (pending, deferred, delay-notified) of
// a parked envelope's text, one entry per recipient, without decoding the envelope; agrees with
// decode_envelope() on every text encode_envelope() writes (tested against it).
std::vector<std::string> peek_queued_domains(std::string_view text);

// The orders of the table. Ties by key.
enum class DestinationSort {
  Queued,     // most messages queued first (the default)
  Age,        // oldest message first
  Deferred,   // most deferrals in the last hour first
  Errors,     // most connection errors + TLS failures in the last hour first
  Delivered,  // most deliveries in the last hour first
  Held,       // held back first, longest hold first
  Name,       // by key
};
// "queued", "age", "deferred", "errors", "delivered", "held", "name".
std::optional<DestinationSort> parse_destination_sort(std::string_view s);
inline constexpr std::string_view kDestinationSorts =
    "queued, age, deferred, errors, delivered, held, name";
void sort_destinations(std::vector<DestinationRow>& rows, DestinationSort by, std::int64_t now);

// One row as a JSON object (docs/console.md "Destinations").
std::string json_destination(const DestinationRow& row, std::int64_t now);
// The table of `taube queue destinations`: qshape's age table, then one health line per
// destination (and its last error under it), in the order of `rows`.
std::string destinations_text(const std::vector<DestinationRow>& rows, std::int64_t now);

}  // namespace taube::queue
