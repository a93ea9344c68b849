#include "net/queue_runner.hpp"

#include <algorithm>
#include <chrono>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "net/blocking_pool.hpp"
#include "net/nexthop_resolver.hpp"
#include "net/queue_id.hpp"
#include "net/tls_context.hpp"
#include "queue/dsn.hpp"
#include "smtp/wire/trace.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using queue::AttemptOutcome;
using queue::RecipientAttempt;

namespace {

AttemptOutcome outcome_of(smtp::client::Outcome o) {
  switch (o) {
    case smtp::client::Outcome::Accepted:
      return AttemptOutcome::Accepted;
    case smtp::client::Outcome::Failed:
      return AttemptOutcome::Failed;
    case smtp::client::Outcome::Unknown:
      return AttemptOutcome::Unknown;
    case smtp::client::Outcome::Deferred:
      break;
  }
  return AttemptOutcome::Deferred;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

const char* notice_text(queue::DsnAction a) {
  switch (a) {
    case queue::DsnAction::Failed:
      return "sender non-delivery notification";
    case queue::DsnAction::Delayed:
      return "sender delay notification";
    default:
      return "sender delivery status notification";
  }
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
  if (!items_.empty())
    observer_.queue_note({"", "queue " + store_.directory() + ": " + std::to_string(items_.size()) +
                                  " message(s) to deliver"});
  return {};
}

void QueueRunner::start() {
  started_ = true;
  asio::co_spawn(io_, timer_loop(), asio::detached);
  schedule();
}

void QueueRunner::stop() {
  stopping_ = true;
  timer_.cancel();
  for (auto& [key, d] : destinations_) wake_idle(d);
}

void QueueRunner::submit(const std::string& name, const queue::QueueEnvelope& env) {
  asio::post(io_, [this, name, env]() mutable {
    add(std::move(name), std::move(env));
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
  }
  --d.active;
  --active_;
  schedule();
}

asio::awaitable<void> QueueRunner::transact(Item& item, const std::vector<std::size_t>& rcpts,
                                            OutboundConnection& conn, double setup_seconds) {
  const std::string name = item.name;
  auto read = [this, &name] { return store_.read_message(name); };
  auto content = co_await run_blocking(pool_, read);
  if (!content) {
    const std::string why =
        "451 4.3.0 cannot read the queue file: " + std::string(store::to_string(content.error()));
    const std::string no_relay = "none";
    const AttemptOutcome deferred = AttemptOutcome::Deferred;
    co_await fail_all(item, rcpts, deferred, why, no_relay);
    co_return;
  }
  smtp::client::OutboundMessage msg;
  msg.sender = item.env.sender;
  msg.params = item.env.params;
  msg.params.size = content->size();
  for (auto i : rcpts)
    msg.recipients.push_back({item.env.recipients[i].mailbox, item.env.recipients[i].params});
  // RFC 6152 §3: 8-bit content for a server without 8BITMIME must be converted or returned.
  // Taube does not convert (yet): such mail fails with 5.6.3 rather than going out 8-bit.
  if (!conn.session().extensions().eight_bit_mime() &&
      std::any_of(content->begin(), content->end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    const std::string why =
        "554 5.6.3 " + conn.target().relay() +
        " does not accept 8-bit content (no 8BITMIME) and conversion is not supported";
    const std::string relay = conn.target().relay();
    const AttemptOutcome failed = AttemptOutcome::Failed;
    co_await fail_all(item, rcpts, failed, why, relay);
    co_return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  smtp::client::MessageResult result = co_await conn.send(msg, *content);
  const double transmit = seconds_since(t0);

  std::vector<RecipientAttempt> attempts;
  for (const auto& r : result.recipients) {
    if (r.index >= rcpts.size()) continue;
    RecipientAttempt a;
    a.index = rcpts[r.index];
    a.result.outcome = outcome_of(r.outcome);
    a.result.reply = r.reply;
    a.result.status = r.status;
    a.result.handoff = result.dsn_passed_on ? queue::Handoff::PassedOn : queue::Handoff::Relayed;
    a.relay = conn.target().relay();
    // A reply Taube made itself (SIZE over the peer's limit, ...) names no remote MTA.
    a.remote_mta = r.local ? std::string() : conn.target().host;
    attempts.push_back(std::move(a));
  }
  bool answered = false, delivered = false;
  for (const auto& a : attempts) {
    if (a.result.outcome == AttemptOutcome::Accepted) delivered = true;
    if (a.result.outcome != AttemptOutcome::Unknown) answered = true;
  }
  auto& d = destinations_.at(
      queue::route_for(item.env.recipients[rcpts[0]].mailbox.domain, cfg_.routing).key());
  if (delivered)
    d.state.delivered();
  else if (answered)
    d.state.answered();

  // The opening of the session and this message's dialog, never other messages' envelopes.
  std::string transcript = conn.transcript();

  auto updated = item.env;
  auto applied =
      queue::apply_attempts(updated, attempts, now(), cfg_.retry, [this] { return random01(); });
  co_await commit_applied(item, updated, applied, transcript, setup_seconds, transmit);
}

asio::awaitable<void> QueueRunner::fail_all(Item& item, const std::vector<std::size_t>& rcpts,
                                            AttemptOutcome outcome, const std::string& reply,
                                            const std::string& relay) {
  std::vector<RecipientAttempt> attempts;
  for (auto i : rcpts) {
    RecipientAttempt a;
    a.index = i;
    a.result.outcome = outcome;
    a.result.reply = reply;
    // A local reason ("connect to ...: Connection refused") carries no code: RFC 3463 X.4.1 "no
    // answer from host", as Postfix reports it. DNS failures come with their own code.
    if (reply.empty() || reply[0] < '2' || reply[0] > '5')
      a.result.status = outcome == AttemptOutcome::Failed ? "5.4.4" : "4.4.1";
    a.relay = relay;
    attempts.push_back(std::move(a));
  }
  auto updated = item.env;
  auto applied =
      queue::apply_attempts(updated, attempts, now(), cfg_.retry, [this] { return random01(); });
  const std::string no_transcript;
  const double zero = 0;
  co_await commit_applied(item, updated, applied, no_transcript, zero, zero);
}

asio::awaitable<void> QueueRunner::expire(Item& item) {
  auto updated = item.env;
  auto applied = queue::expire_overdue(updated, now(), cfg_.retry);
  const std::string no_transcript;
  const double zero = 0;
  co_await commit_applied(item, updated, applied, no_transcript, zero, zero);
}

asio::awaitable<void> QueueRunner::commit_applied(Item& item, queue::QueueEnvelope& updated,
                                                  queue::AppliedAttempt& applied,
                                                  const std::string& transcript,
                                                  double setup_seconds, double transmit_seconds) {
  const std::int64_t t = now();
  // The notice, if one is due: its recipient (the original sender) resolved like any recipient
  // of received mail, by the same policy, on this thread.
  std::vector<queue::RecipientReport> reports;
  store::MessageInfo notice;
  std::optional<queue::DsnAction> notice_kind;
  if (!applied.notices.empty()) {
    reports = queue::select_reports(updated, applied.notices);
    if (!reports.empty()) {
      notice_kind = reports.front().action;
      for (const auto& r : reports)
        if (r.action == queue::DsnAction::Failed) notice_kind = r.action;
      notice.queue_id = new_queue_id();
      notice.arrival = t;
      notice.envelope.sender.null = true;
      smtp::Recipient to;
      to.mailbox = updated.sender.mailbox;
      to.params.notify = smtp::NotifyNever;
      policy::ClientFacts self;
      self.address = *inet::IpAddress::parse("127.0.0.1");
      self.auth_user = "MAILER-DAEMON";  // Taube itself: may send anywhere
      auto v = recipients_.decide(self, to.mailbox);
      if (v.kind == smtp::RcptVerdictKind::Accept || v.kind == smtp::RcptVerdictKind::Forward) {
        to.destinations = v.destinations;
        notice.envelope.recipients.push_back(std::move(to));
      } else {
        observer_.queue_note({updated.id,
                              "warning: cannot send a notice to <" +
                                  updated.sender.mailbox.to_string() + ">: no such recipient",
                              true, "bounce"});
        reports.clear();
        notice_kind.reset();
      }
    }
  }
  const std::string name = item.name;
  const bool finished = applied.finished;
  std::string boundary = "=_taube_" + std::to_string(rng_()) + "_" + std::to_string(rng_());
  struct Outcome {
    std::string notice_error;
    std::optional<store::StoreError> store_error;
  };
  auto job = [&]() -> Outcome {
    Outcome o;
    if (!reports.empty()) {
      auto original = store_.read_message(name);
      queue::DsnRequest req;
      req.reporting_mta = hostname_;
      req.date = t;
      req.message_id = "<" + notice.queue_id + "@" + hostname_ + ">";
      req.boundary = boundary;
      req.reports = reports;
      auto dsn = queue::build_dsn(updated, req, original ? *original : std::string());
      if (!dsn) {
        o.notice_error = std::string(queue::describe(dsn.error()));
      } else {
        notice.envelope.mail_params.smtputf8 = dsn->smtputf8;
        notice.envelope.mail_params.body =
            dsn->eight_bit ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit;
        notice.envelope.mail_params.size = dsn->message.size();
        smtp::TraceInfo tr;
        tr.hostname = hostname_;
        tr.id = notice.queue_id;
        tr.date = rfc5322_date_now();
        std::string prefix = smtp::return_path_header(notice.envelope.sender) + "Received: by " +
                             hostname_ + " (Taube) id " + notice.queue_id + "; " + tr.date + "\n";
        auto w = notices_.begin(notice, prefix);
        w->append(dsn->message);
        auto out = w->commit(prefix);
        if (!out.ok()) o.notice_error = store::to_string(*out.first_error());
      }
    }
    // Only once the notice is durable does the envelope say the recipient was reported.
    if (!o.notice_error.empty()) return o;
    // The transcript answers "why is this still here": a finished item needs none.
    if (!transcript.empty() && !finished) store_.save_transcript(name, transcript);
    auto r = finished ? store_.remove(name) : store_.update(name, updated);
    if (!r) o.store_error = r.error();
    return o;
  };
  Outcome o = co_await run_blocking(pool_, job);
  if (!o.notice_error.empty()) {
    // The notice could not be queued: the item keeps its old state and is tried again later
    // (a deferral of the notice, not a loss).
    observer_.queue_note(
        {updated.id, "warning: cannot queue a notice: " + o.notice_error, true, "bounce"});
    for (auto& r : item.env.recipients)
      if (queue::is_queued(r.state)) r.next_attempt = t + cfg_.retry.retry_min.count();
    done_with(item, false);
    co_return;
  }
  if (o.store_error)
    observer_.queue_note(
        {updated.id,
         std::string("warning: cannot update the queue file: ") + store::to_string(*o.store_error),
         true});
  const double in_queue = std::max<double>(
      0, static_cast<double>(t - updated.arrival) - setup_seconds - transmit_seconds);
  for (const auto& r : applied.recipients) {
    const auto& q = updated.recipients[r.index];
    events::Delivery e;
    e.queue_id = updated.id;
    e.to = q.mailbox.to_string();
    e.orig_to = q.original;
    e.relay = r.relay.empty() ? "none" : r.relay;
    e.delay = static_cast<double>(t - updated.arrival);
    e.delays[1] = in_queue;
    e.delays[2] = setup_seconds;
    e.delays[3] = transmit_seconds;
    e.dsn = r.decision.status.empty() ? queue::status_of_reply(r.reply, AttemptOutcome::Deferred)
                                      : r.decision.status;
    e.status = queue::to_string(r.status);
    e.reply = r.reply;
    observer_.delivery(e);
  }
  if (notice_kind) {
    observer_.queue_note({updated.id,
                          std::string(notice_text(*notice_kind)) + ": " + notice.queue_id, false,
                          "bounce"});
    // A notice filed into a local Maildir is delivered now: its line like any local delivery
    // (one queued for a remote sender is logged when the queue delivers it).
    const auto& dests = notice.envelope.recipients.front().destinations;
    if (std::any_of(dests.begin(), dests.end(), [](const smtp::Destination& x) {
          return x.route == smtp::Destination::Route::Mailbox;
        })) {
      events::Delivery e;
      e.queue_id = notice.queue_id;
      e.to = updated.sender.mailbox.to_string();
      e.relay = "local";
      e.dsn = "2.0.0";
      e.status = "sent";
      e.reply = "delivered to maildir";
      observer_.delivery(e);
    }
  }
  item.env = std::move(updated);
  if (finished) observer_.queue_note({item.env.id, "removed"});
  done_with(item, finished);
}

void QueueRunner::done_with(Item& item, bool finished) {
  item.busy = false;
  if (finished) {
    const std::string name = item.name;
    items_.erase(name);  // `item` is gone after this line
  } else {
    file(item);
  }
  schedule();
}

}  // namespace taube::net
