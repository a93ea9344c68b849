// QueueRunner's Destinations view (docs/console.md "Destinations"): what each destination's
// attempts met (queue::DestinationStats, fed by deliver() and transact()) and the snapshot that
// joins it to the queue's shape and the scheduling state (queue/destination_view.hpp). On the
// event loop, like the rest of the runner's administration.
#include <unordered_map>

#include "net/queue_runner.hpp"
#include "queue/listing.hpp"
#include "queue/route.hpp"

namespace taube::net {

void QueueRunner::note_outcome(const std::string& key, queue::AttemptKind kind, std::size_t n,
                               std::string_view error) {
  // Room for a new destination is taken from one with no connection and no mail waiting for
  // one: a destination being worked on keeps its history.
  const queue::DestinationStats::IdlePredicate idle = [this](const std::string& k) {
    auto it = destinations_.find(k);
    return it == destinations_.end() || (it->second.active == 0 && it->second.ready.empty());
  };
  stats_.record(key, kind, now(), n, error, idle);
}

void QueueRunner::note_open_failure(const std::string& key, OpenResult result,
                                    const std::optional<smtp::client::SessionFailure>& failure,
                                    const std::string& error) {
  // Cut by the shutdown grace: our doing, not the destination's.
  if (result == OpenResult::Cut || result == OpenResult::Ok) return;
  // RFC 3207: STARTTLS refused (or not offered where TLS is required) and a failed handshake
  // are TLS failures; everything else before MAIL (connect, greeting, EHLO, AUTH, a timeout)
  // is a connection error.
  const bool tls =
      result == OpenResult::TlsFailed ||
      (failure && (failure->tls_failed || failure->stage == "starttls" || failure->stage == "tls"));
  note_outcome(key, tls ? queue::AttemptKind::TlsFailure : queue::AttemptKind::ConnectionError, 1,
               error);
}

asio::awaitable<std::vector<queue::DestinationRow>> QueueRunner::destinations() {
  const std::int64_t t = now();
  queue::DestinationShape shape;
  // Domain -> destination key for this scan: route_for() once per domain, not per recipient.
  // (An unordered_map's values do not move when it grows.)
  std::unordered_map<std::string, std::string> key_of;
  auto key_for = [&](const std::string& domain) -> const std::string& {
    auto it = key_of.find(domain);
    if (it == key_of.end())
      it = key_of.emplace(domain, queue::route_for(domain, cfg_.routing).key()).first;
    return it->second;
  };
  // One message's queued recipients per destination key (few: a small vector).
  std::vector<std::pair<const std::string*, std::size_t>> here;
  auto count = [&here](const std::string& key) {
    for (auto& [k, n] : here)
      if (*k == key) {
        ++n;
        return;
      }
    here.emplace_back(&key, 1);
  };
  const std::function<void()> reset = [&] { shape = queue::DestinationShape(); };
  const std::function<void(const std::string&, Entry&)> visit = [&](const std::string&, Entry& e) {
    here.clear();
    queue::QueueState state = queue::QueueState::Incoming;
    std::int64_t arrival = 0;
    if (e.live) {
      const auto& env = e.live->env;
      for (const auto& r : env.recipients)
        if (queue::is_queued(r.state)) count(key_for(r.mailbox.domain));
      state = queue::state_of(env, e.live->busy);
      arrival = env.arrival;
    } else {
      const auto s = queue::peek_envelope(e.parked);
      if (!s.ok) return;  // as list(): an envelope that does not decode is not shown
      for (const auto& d : queue::peek_queued_domains(e.parked)) count(key_for(d));
      state = s.held    ? queue::QueueState::Hold
              : s.tried ? queue::QueueState::Deferred
                        : queue::QueueState::Incoming;
      arrival = s.arrival;
    }
    for (const auto& [k, n] : here) shape.add(*k, state, arrival, n, t);
  };
  co_await visit_all(reset, visit);
  auto& rows = shape.rows();
  // After the scan (the loop ran meanwhile): the scheduling state and the history as they are.
  for (const auto& [key, d] : destinations_) {
    auto& r = rows[key];
    r.key = key;
    r.scheduled = true;
    r.connections = d.active;
    r.limit = d.state.limit();
    r.consecutive_failures = d.state.consecutive_failures();
    r.held_until = d.state.held_until();
    r.plaintext_until = d.plaintext_until;
    r.waiting = d.ready.size();
  }
  for (auto& h : stats_.all(t)) {
    auto& r = rows[h.key];
    r.key = h.key;
    r.history = std::move(h);
  }
  std::vector<queue::DestinationRow> out;
  out.reserve(rows.size());
  for (auto& [key, r] : rows) out.push_back(std::move(r));
  co_return out;
}

}  // namespace taube::net
