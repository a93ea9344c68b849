#include "queue/census.hpp"

#include <numeric>

namespace taube::queue {

std::string_view state_name(QueueState s) {
  switch (s) {
    case QueueState::Incoming:
      return "incoming";
    case QueueState::Active:
      return "active";
    case QueueState::Deferred:
      return "deferred";
    case QueueState::Hold:
      return "hold";
  }
  return "incoming";
}

// The same order of precedence as queue_name() (listing.cpp): a held item is "hold" even while
// an administrator's action runs on it.
QueueState state_of(const QueueEnvelope& env, bool busy) {
  if (env.held != 0) return QueueState::Hold;
  if (busy) return QueueState::Active;
  for (const auto& r : env.recipients)
    if (r.attempts > 0) return QueueState::Deferred;
  return QueueState::Incoming;
}

void QueueCensus::add_to(std::map<std::int64_t, std::size_t>& m, std::int64_t t) {
  ++m[t];
}

void QueueCensus::take_from(std::map<std::int64_t, std::size_t>& m, std::int64_t t) {
  auto it = m.find(t);
  if (it == m.end()) return;  // cannot happen: every slot counted was added
  if (--it->second == 0) m.erase(it);
}

void QueueCensus::set(CensusSlot& slot, QueueState state, std::int64_t arrival, std::int64_t held) {
  if (state != QueueState::Hold) held = 0;
  if (slot.counted && slot.state == state && slot.arrival == arrival && slot.held == held) return;
  remove(slot);
  slot.counted = true;
  slot.state = state;
  slot.arrival = arrival;
  slot.held = held;
  ++count_[index(state)];
  add_to(arrivals_[index(state)], arrival);
  if (state == QueueState::Hold) add_to(held_since_, held);
}

void QueueCensus::remove(CensusSlot& slot) {
  if (!slot.counted) return;
  slot.counted = false;
  --count_[index(slot.state)];
  take_from(arrivals_[index(slot.state)], slot.arrival);
  if (slot.state == QueueState::Hold) take_from(held_since_, slot.held);
}

std::size_t QueueCensus::total() const {
  return std::accumulate(count_.begin(), count_.end(), std::size_t{0});
}

std::optional<std::int64_t> QueueCensus::oldest_arrival(QueueState s) const {
  const auto& m = arrivals_[index(s)];
  if (m.empty()) return std::nullopt;
  return m.begin()->first;
}

std::optional<std::int64_t> QueueCensus::oldest_hold() const {
  if (held_since_.empty()) return std::nullopt;
  return held_since_.begin()->first;
}

}  // namespace taube::queue
