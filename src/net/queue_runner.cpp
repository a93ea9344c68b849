#include "net/queue_runner.hpp"

#include <algorithm>
#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "net/nexthop_resolver.hpp"
#include "net/tls_context.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using queue::AttemptOutcome;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

QueueRunner::QueueRunner(asio::io_context& io, const OutboundConfig& config, std::string hostname,
                         asio::thread_pool& pool, store::QueueStore& store,
                         store::MessageSink& notices, const policy::RecipientPolicy& recipients,
                         events::Observer& observer, sasl::ClientCrypto* sasl_crypto)
    : io_(io),
      cfg_(config),
      hostname_(std::move(hostname)),
      pool_(pool),
      store_(store),
      notices_(notices),
      recipients_(recipients),
      observer_(observer),
      sasl_crypto_(sasl_crypto),
      timer_(io),
      tidy_timer_(io),
      grace_timer_(io),
      rng_(std::random_device{}()) {
  auto ctx = make_client_tls_context(false);
  if (ctx) tls_ = std::move(*ctx);
}

QueueRunner::~QueueRunner() = default;

std::int64_t QueueRunner::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double QueueRunner::random01() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

tl::expected<void, std::string> QueueRunner::open() {
  auto scan = store_.scan();
  if (!scan)
    return tl::unexpected("cannot read the queue " + store_.directory() + ": " +
                          store::to_string(scan.error()));
  for (const auto& c : scan->corrupt)
    observer_.queue_note(
        {"", "warning: corrupt queue file moved to " + store_.directory() + "/corrupt/: " + c,
         true});
  for (const auto& n : scan->incomplete)
    observer_.queue_note({"", "removed incomplete queue file " + n +
                                  " (a receipt cut short before its 250, or the removal of a "
                                  "finished item)"});
  for (auto& item : scan->items) add(item.name, std::move(item.envelope));
  report_inflight();
  if (!items_.empty())
    observer_.queue_note({"", "queue " + store_.directory() + ": " + std::to_string(items_.size()) +
                                  " message(s) to deliver"});
  return {};
}

// Attempts whose data went out before the previous run ended and whose result never reached
// the envelope: delivered again now, and said so (queue/inflight.hpp).
void QueueRunner::report_inflight() {
  for (const auto& m : store_.inflight().recover()) {
    auto it = items_.find(m.name);
    if (it == items_.end()) continue;  // finished: the result was recorded
    const auto& env = it->second->env;
    std::string who;
    for (auto i : queue::unrecorded(m, env))
      who += (who.empty() ? "to=<" : ", to=<") + env.recipients[i].mailbox.to_string() + ">";
    if (who.empty()) continue;
    observer_.queue_note({env.id,
                          "warning: possible duplicate: " + who + ", relay=" +
                              (m.relay.empty() ? std::string("none") : m.relay) +
                              ": Taube stopped after the message was sent (at " +
                              std::to_string(m.time) +
                              ") and before the reply was recorded; it is sent again",
                          true});
  }
}

void QueueRunner::start() {
  started_ = true;
  asio::co_spawn(io_, timer_loop(), asio::detached);
  schedule();
}

void QueueRunner::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
  timer_.cancel();
  tidy_timer_.cancel();
  for (auto& [key, d] : destinations_) wake_idle(d);
  if (active_ == 0) return;
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this](asio::error_code ec) {
    if (ec || open_.empty()) return;
    observer_.queue_note({"",
                          "warning: grace period over: closing " + std::to_string(open_.size()) +
                              " outbound connection(s)",
                          true, "smtp"});
    for (auto* c : open_) c->abort();
  });
}

void QueueRunner::tidy_soon() {
  if (tidy_armed_ || stopping_) return;
  tidy_armed_ = true;
  // Long enough that a busy queue's submissions flush first (tidy then has nothing to do).
  tidy_timer_.expires_after(std::chrono::milliseconds(100));
  tidy_timer_.async_wait([this](asio::error_code ec) {
    tidy_armed_ = false;
    if (ec) return;
    // The pool is joined before the store goes (Server::~Server), so the job may outlive us.
    asio::post(pool_, [&store = store_] { store.tidy(true); });
  });
}

void QueueRunner::submit(const std::string& name, const queue::QueueEnvelope& env,
                         std::shared_ptr<const std::string> content) {
  asio::post(io_, [this, name, env, content = std::move(content)]() mutable {
    add(name, std::move(env));
    if (content && content_bytes_ + content->size() <= kContentBudget) {
      content_bytes_ += content->size();
      items_.at(name)->content = std::move(content);
    }
    if (started_) schedule();
  });
}

void QueueRunner::add(std::string name, queue::QueueEnvelope env) {
  auto item = std::make_unique<Item>();
  item->name = name;
  item->env = std::move(env);
  Item& ref = *item;
  items_[name] = std::move(item);
  file(ref);
}

void QueueRunner::file(Item& item) {
  auto due = queue::next_due(item.env);
  if (!due) return;
  item.scheduled = *due;
  timeline_.emplace(*due, item.name);
}

std::size_t QueueRunner::flush_domain(const std::string& domain_in) {
  const std::string domain = smtp::ascii_lower(domain_in);
  const std::int64_t t = now();
  std::size_t n = 0;
  for (auto& [name, item] : items_) {
    bool touched = false;
    for (auto& r : item->env.recipients) {
      if (!queue::is_queued(r.state) || smtp::ascii_lower(r.mailbox.domain) != domain) continue;
      r.next_attempt = std::min(r.next_attempt, t);
      touched = true;
      ++n;
    }
    if (touched && !item->busy) file(*item);
    if (touched) {
      // RFC 1985: the client says it is up now; its hold-back ends.
      auto key = queue::route_for(domain, cfg_.routing).key();
      if (auto it = destinations_.find(key); it != destinations_.end()) it->second.state.answered();
    }
  }
  schedule();
  return n;
}

std::vector<std::size_t> QueueRunner::due_recipients(const Item& item, const std::string& key,
                                                     std::int64_t t) const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < item.env.recipients.size(); ++i) {
    const auto& r = item.env.recipients[i];
    if (!queue::is_queued(r.state) || r.next_attempt > t) continue;
    if (queue::route_for(r.mailbox.domain, cfg_.routing).key() != key) continue;
    out.push_back(i);
    if (out.size() >= cfg_.max_recipients) break;
  }
  return out;
}

void QueueRunner::schedule() {
  if (stopping_) return;
  const std::int64_t t = now();
  while (!timeline_.empty() && timeline_.begin()->first <= t) {
    auto [due, name] = *timeline_.begin();
    timeline_.erase(timeline_.begin());
    auto it = items_.find(name);
    if (it == items_.end()) continue;
    Item& item = *it->second;
    if (item.scheduled != due || item.busy) continue;  // stale entry, or re-filed when done
    item.scheduled = -1;
    if (t >= queue::lifetime_deadline(item.env.arrival, cfg_.retry)) {
      item.busy = true;
      asio::co_spawn(io_, expire(item), asio::detached);
      continue;
    }
    bool any = false;
    for (const auto& r : item.env.recipients) {
      if (!queue::is_queued(r.state) || r.next_attempt > t) continue;
      auto hop = queue::route_for(r.mailbox.domain, cfg_.routing);
      auto [dit, created] = destinations_.try_emplace(hop.key());
      Destination& d = dit->second;
      if (created) {
        d.hop = hop;
        queue::DestinationPolicy p;
        p.initial_concurrency = std::min(cfg_.initial_concurrency, cfg_.per_destination);
        p.max_concurrency = cfg_.per_destination;
        p.retry = cfg_.retry;
        d.state = queue::DestinationState(p);
      }
      if (d.queued.insert(name).second) d.ready.push_back(name);
      any = true;
    }
    if (!any) file(item);
  }
  dispatch(t);
  // The next wake-up: the first timeline entry, or the end of a hold-back with mail waiting.
  std::optional<std::int64_t> next;
  if (!timeline_.empty()) next = timeline_.begin()->first;
  for (const auto& [key, d] : destinations_)
    if (!d.ready.empty() && d.state.held(t) && (!next || d.state.held_until() < *next))
      next = d.state.held_until();
  if (next) {
    // Unix seconds to the steady clock: fire once the wall clock has reached `next`.
    const auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(*next));
    const auto wait = wall - std::chrono::system_clock::now() + std::chrono::milliseconds(2);
    timer_.expires_after(std::max<std::chrono::steady_clock::duration>(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait),
        std::chrono::milliseconds(1)));
  } else {
    timer_.expires_at(std::chrono::steady_clock::time_point::max());
  }
}

asio::awaitable<void> QueueRunner::timer_loop() {
  while (!stopping_) {
    co_await timer_.async_wait(as_tuple(use_awaitable));
    if (stopping_) break;
    // A re-arm cancels the wait: only an expired timer means work is due.
    if (timer_.expiry() <= std::chrono::steady_clock::now()) schedule();
  }
}

void QueueRunner::wake_idle(Destination& d) {
  for (auto* t : d.idle_waiters) t->cancel();
  d.idle_waiters.clear();
}

void QueueRunner::dispatch(std::int64_t t) {
  for (auto& [key, d] : destinations_) {
    if (d.ready.empty() || d.state.held(t)) continue;
    // Idle connections take the new work first; a busy one takes the next item when its
    // transaction ends. New connections only for work beyond what the open ones will carry
    // (a connection per message would be churn, not concurrency).
    wake_idle(d);
    std::size_t wanted = d.ready.size() > d.active ? d.ready.size() - d.active : 0;
    while (wanted > 0 && d.state.may_connect(t, d.active) && active_ < cfg_.max_connections) {
      ++d.active;
      ++active_;
      --wanted;
      asio::co_spawn(io_, deliver(key), asio::detached);
    }
  }
}

std::string QueueRunner::take_ready(Destination& d) {
  for (auto it = d.ready.begin(); it != d.ready.end(); ++it) {
    auto item = items_.find(*it);
    if (item == items_.end()) {
      d.queued.erase(*it);
      it = d.ready.erase(it);
      if (it == d.ready.end()) break;
      --it;
      continue;
    }
    if (item->second->busy) continue;
    std::string name = *it;
    d.ready.erase(it);
    d.queued.erase(name);
    item->second->busy = true;
    return name;
  }
  return {};
}

smtp::client::ClientConfig QueueRunner::client_config(const Destination& d, bool plaintext) const {
  smtp::client::ClientConfig c;
  c.helo_name = cfg_.helo_name.empty() ? hostname_ : cfg_.helo_name;
  // LHLO, and one reply per recipient after the data (RFC 2033 §4.2): the session's business.
  c.dialect = d.hop.dialect;
  switch (d.hop.tls) {
    case queue::TlsUse::None:
      c.tls = smtp::client::TlsPolicy::None;
      break;
    case queue::TlsUse::Opportunistic:
      c.tls = plaintext ? smtp::client::TlsPolicy::None : smtp::client::TlsPolicy::Opportunistic;
      break;
    case queue::TlsUse::Required:
      c.tls = smtp::client::TlsPolicy::Required;
      break;
    case queue::TlsUse::Implicit:
      c.tls = smtp::client::TlsPolicy::Required;
      c.tls_active = true;
      break;
  }
  if (d.hop.smarthost && cfg_.smarthost_credentials) c.credentials = cfg_.smarthost_credentials;
  c.sasl_crypto = sasl_crypto_;
  return c;
}

asio::awaitable<void> QueueRunner::deliver(const std::string& key) {
  Destination& d = destinations_.at(key);
  const auto started = std::chrono::steady_clock::now();
  NexthopOptions opts;
  opts.max_addresses = cfg_.max_addresses;
  opts.self_names = {hostname_};
  opts.self_endpoints = self_endpoints_;
  opts.family = cfg_.dns_family;
  const std::function<double()> draw = [this] { return random01(); };
  ResolvedNexthop resolved = co_await resolve_nexthop(io_, resolver_, d.hop, opts, draw);

  std::unique_ptr<OutboundConnection> conn;
  std::string error;
  AttemptOutcome failure_outcome = AttemptOutcome::Deferred;
  if (resolved.status != ResolvedNexthop::Status::Ok) {
    error = resolved.reply;
    if (resolved.status == ResolvedNexthop::Status::PermFail)
      failure_outcome = AttemptOutcome::Failed;
  } else {
    // RFC 5321 §5.1: try the addresses in order; Postfix stops after two SMTP sessions.
    int sessions = 0;
    for (const auto& target : resolved.targets) {
      if (stopping_) break;
      const bool plaintext = d.plaintext_until > now();
      auto config = client_config(d, plaintext);
      std::optional<smtp::client::SessionFailure> failure;
      conn = co_await OutboundConnection::open(io_, target, config, tls_, cfg_.connect_timeout,
                                               error, failure);
      if (!conn && failure && failure->tls_failed && d.hop.tls == queue::TlsUse::Opportunistic &&
          !plaintext) {
        // Opportunistic TLS that fails must not hold the mail (RFC 7435 §3): again in
        // plaintext, and remember the destination for a while.
        d.plaintext_until = now() + cfg_.tls_fallback_memory.count();
        observer_.queue_note({"",
                              "warning: " + error + "; trying " + target.relay() + " without TLS",
                              true, "smtp"});
        auto plain = client_config(d, true);
        failure.reset();
        conn = co_await OutboundConnection::open(io_, target, plain, tls_, cfg_.connect_timeout,
                                                 error, failure);
      }
      if (conn) break;
      // A session refused before any transaction (5xx greeting, EHLO refused, AUTH refused
      // by a smarthost) is the server's trouble, not the recipient's: deferred, like Postfix
      // with smtp_skip_5xx_greeting and smtp_sasl_auth_soft_bounce (no bounce for mail that
      // another host or a fixed password would deliver).
      if (failure && ++sessions >= 2) break;
    }
    if (!conn && error.empty()) error = "no address to deliver to for " + d.hop.host;
  }
  const double setup = seconds_since(started);

  if (!conn) {
    if (failure_outcome == AttemptOutcome::Deferred) d.state.connection_failed(now(), random01());
    // Every item waiting for this destination gets the same answer: one failed connection
    // stands for all of them (no connection per message to a dead host).
    for (std::string name = take_ready(d); !name.empty(); name = take_ready(d)) {
      Item& item = *items_.at(name);
      auto rcpts = due_recipients(item, key, now());
      const std::string no_relay = "none";
      co_await fail_all(item, rcpts, failure_outcome, error, no_relay);
    }
  } else {
    open_.insert(conn.get());
    while (!stopping_) {
      std::string name = take_ready(d);
      if (name.empty()) {
        // Idle: wait up to idle_time for more mail to this destination before saying QUIT. A
        // wake-up whose work another connection took first waits on.
        const auto until = std::chrono::steady_clock::now() + cfg_.idle_time;
        while (name.empty() && !stopping_ && std::chrono::steady_clock::now() < until) {
          asio::steady_timer idle(io_);
          idle.expires_at(until);
          d.idle_waiters.push_back(&idle);
          co_await idle.async_wait(as_tuple(use_awaitable));
          std::erase(d.idle_waiters, &idle);
          name = take_ready(d);
        }
        if (name.empty()) break;
      }
      Item& item = *items_.at(name);
      auto rcpts = due_recipients(item, key, now());
      if (rcpts.empty()) {
        done_with(item, false);
        continue;
      }
      // Postfix's delays= "c": connection setup, counted for the first message of a connection.
      const double setup_share = conn->messages() == 0 ? setup : 0.0;
      co_await transact(item, rcpts, *conn, setup_share);
      if (!conn->usable() || conn->messages() >= cfg_.max_messages_per_connection ||
          std::chrono::steady_clock::now() - conn->opened() >= cfg_.max_connection_age)
        break;
    }
    co_await conn->quit();
    open_.erase(conn.get());
  }
  --d.active;
  --active_;
  if (stopping_ && active_ == 0) grace_timer_.cancel();  // nothing left to cut: exit now
  schedule();
}

}  // namespace taube::net
