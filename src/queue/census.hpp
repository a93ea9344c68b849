// QueueCensus: how many queued messages are in each of Postfix's queue states, and how old the
// oldest of each is, kept up to date as items change state so that a metrics scrape reads it in
// O(1) instead of walking (and decoding) a queue of a million items. Pure: the caller says what
// state each item is in and gives it a slot to remember what it was counted as.
//
// States are Postfix's queue names as `taube queue list --json` prints them (queue/listing.hpp
// queue_name()): hold (taube queue hold), active (an attempt is running), deferred (tried
// before), incoming (not tried yet). The oldest arrival per state is kept in an ordered map of
// arrival second -> count, so each change costs O(log n) and the map has at most one node per
// distinct arrival second (messages arriving in the same second share one). Not thread safe:
// the queue runner's event loop owns it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>

#include "queue/envelope.hpp"

namespace taube::queue {

enum class QueueState : std::uint8_t { Incoming, Active, Deferred, Hold };
inline constexpr std::size_t kQueueStates = 4;
// "incoming", "active", "deferred", "hold" (the words of queue_name()).
std::string_view state_name(QueueState s);
// The state of an item with this envelope; `busy`: an attempt (or an administrator's action)
// is running on it now.
QueueState state_of(const QueueEnvelope& env, bool busy);

// What one item was counted as; owned by the item, given back on every change.
struct CensusSlot {
  bool counted = false;
  QueueState state = QueueState::Incoming;
  std::int64_t arrival = 0;
  std::int64_t held = 0;  // since when on hold (state Hold only)
};

class QueueCensus {
 public:
  // The item of `slot` is now in `state` (counted once, however often this is called).
  void set(CensusSlot& slot, QueueState state, std::int64_t arrival, std::int64_t held);
  void set(CensusSlot& slot, const QueueEnvelope& env, bool busy) {
    set(slot, state_of(env, busy), env.arrival, env.held);
  }
  // The item of `slot` left the queue (a slot not counted is ignored).
  void remove(CensusSlot& slot);

  std::size_t count(QueueState s) const { return count_[index(s)]; }
  std::size_t total() const;
  // Unix seconds of the earliest arrival among the items in `s`; nothing when there is none.
  std::optional<std::int64_t> oldest_arrival(QueueState s) const;
  // Unix seconds when the item on hold longest was put on hold.
  std::optional<std::int64_t> oldest_hold() const;

 private:
  static std::size_t index(QueueState s) { return static_cast<std::size_t>(s); }
  static void add_to(std::map<std::int64_t, std::size_t>& m, std::int64_t t);
  static void take_from(std::map<std::int64_t, std::size_t>& m, std::int64_t t);

  std::array<std::size_t, kQueueStates> count_{};
  std::array<std::map<std::int64_t, std::size_t>, kQueueStates> arrivals_;
  std::map<std::int64_t, std::size_t> held_since_;
};

}  // namespace taube::queue
