#include "net/queue_runner.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string_view>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "net/blocking_pool.hpp"
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
                         store::MessageSink& notices,
                         std::shared_ptr<const policy::RecipientPolicy> recipients,
                         events::Observer& observer, sasl::ClientCrypto* sasl_crypto)
    : io_(io),
      cfg_(config),
      hostname_(std::move(hostname)),
      pool_(pool),
      store_(store),
      notices_(notices),
      recipients_(std::move(recipients)),
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

void QueueRunner::reconfigure(const OutboundConfig& config,
                              std::shared_ptr<const policy::RecipientPolicy> recipients) {
  cfg_ = config;
  recipients_ = std::move(recipients);
  for (auto& [key, d] : destinations_) d.state.set_policy(destination_policy());
  // New routes or limits may let waiting mail go now: look again.
  if (started_ && !stopping_) schedule();
}

std::int64_t QueueRunner::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

queue::DestinationPolicy QueueRunner::destination_policy() const {
  queue::DestinationPolicy p;
  p.initial_concurrency = std::min(cfg_.initial_concurrency, cfg_.per_destination);
  p.max_concurrency = cfg_.per_destination;
  p.retry = cfg_.retry;
  return p;
}

double QueueRunner::random01() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

tl::expected<void, std::string> QueueRunner::open() {
  load_started_ = std::chrono::steady_clock::now();
  if (auto j = open_journal(); !j) return j;
  auto survey = store_.survey();
  if (!survey)
    return tl::unexpected("cannot read the queue " + store_.directory() + ": " +
                          store::to_string(survey.error()));
  for (const auto& c : survey->corrupt)
    observer_.queue_note(
        {"", "warning: corrupt queue file moved to " + store_.directory() + "/corrupt/: " + c,
         true});
  for (const auto& n : survey->incomplete)
    observer_.queue_note({"", "removed incomplete queue file " + n +
                                  " (a receipt cut short before its 250, or the removal of a "
                                  "finished item)"});
  to_load_ = std::move(survey->names);
  // Before any attempt of this run writes a mark of its own.
  for (auto& m : store_.inflight().recover()) inflight_marks_[m.name].push_back(std::move(m));
  open_history();
  return {};
}

// The queue's journal (QueueStore's fast path), before the survey: what a crash left in it is
// written out as queue files first, so the survey finds those items like any other.
tl::expected<void, std::string> QueueRunner::open_journal() {
  if (cfg_.queue_journal_size == 0) return {};
  const std::string path = store_.directory() + "/journal";
  std::error_code ec;
  const bool existed = std::filesystem::exists(path, ec);
  store_.set_logger([this](const std::string& w) {
    asio::post(io_, [this, w] { observer_.queue_note({"", "warning: " + w, true}); });
  });
  auto j = store_.open_journal(cfg_.queue_journal_size);
  if (!j) {
    // Without a journal every item is filed as files before its 250: slower, just as safe. One
    // that holds items must be read, though: not starting keeps them.
    if (!existed) {
      observer_.queue_note({"",
                            "warning: cannot create the queue journal " + path + ": " +
                                store::to_string(j.error()) + "; queuing without it",
                            true});
      return {};
    }
    return tl::unexpected("cannot read the queue journal " + path + ": " +
                          store::to_string(j.error()) +
                          " (the messages in it stay there until it can be read)");
  }
  if (j->filed > 0 || j->finished > 0)
    observer_.queue_note({"", "queue journal " + path + ": " + std::to_string(j->filed) +
                                  " message(s) filed after a restart, " +
                                  std::to_string(j->finished) + " finished before it"});
  for (const auto& r : j->rescued)
    observer_.queue_note({"",
                          "warning: queue journal " + path + ": record " + r +
                              " is not a queue item; kept in " + store_.directory() + "/corrupt/" +
                              r + ".journal",
                          true});
  return {};
}

// Attempts whose data went out before the previous run ended and whose result never reached
// the envelope (queue/inflight.hpp): delivered again now, and said so. Checked for each item as
// the load adopts it, before any attempt of this run can change its counts.
void QueueRunner::report_inflight(const std::string& name, const std::string& text) {
  auto marks = inflight_marks_.find(name);
  if (marks == inflight_marks_.end()) return;
  auto env = queue::decode_envelope(text);
  if (env) {
    for (const auto& m : marks->second) {
      std::string who;
      for (auto i : queue::unrecorded(m, *env))
        who += (who.empty() ? "to=<" : ", to=<") + env->recipients[i].mailbox.to_string() + ">";
      if (who.empty()) continue;
      observer_.queue_note({env->id,
                            "warning: possible duplicate: " + who +
                                ", relay=" + (m.relay.empty() ? std::string("none") : m.relay) +
                                ": Taube stopped after the message was sent (at " +
                                std::to_string(m.time) +
                                ") and before the reply was recorded; it is sent again",
                            true});
    }
  }
  inflight_marks_.erase(marks);
}

void QueueRunner::start() {
  started_ = true;
  asio::co_spawn(io_, timer_loop(), asio::detached);
  if (to_load_.empty()) {
    finish_load();
  } else {
    observer_.queue_note({"", "queue " + store_.directory() + ": loading " +
                                  std::to_string(to_load_.size()) + " message(s)"});
    post_job(pool_, [this] { load_chunk(0); });
  }
  schedule();
}

void QueueRunner::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
  load_stop_ = true;
  timer_.cancel();
  tidy_timer_.cancel();
  for (auto& [key, d] : destinations_) wake_idle(d);
  if (active_ == 0) return;
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this](asio::error_code ec) {
    if (ec || (open_.empty() && opening_.empty())) return;
    observer_.queue_note({"",
                          "warning: grace period over: closing " + std::to_string(open_.size()) +
                              " outbound connection(s) and " + std::to_string(opening_.size()) +
                              " being opened",
                          true, "smtp"});
    for (auto* c : open_) c->abort();
    // Copied: a cut makes its opening return, which takes itself out of opening_.
    const std::vector<std::function<void()>*> cuts(opening_.begin(), opening_.end());
    for (auto* c : cuts)
      if (*c) (*c)();
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
    post_job(pool_, [&store = store_] { store.tidy(true); });
  });
}

namespace {
constexpr std::size_t kLoadChunk = 2048;
// An item whose next attempt is further away than this is parked (kept as text).
constexpr std::int64_t kParkAfter = 60;
}  // namespace

void QueueRunner::load_chunk(std::size_t from) {
  // On a worker thread. to_load_ is not touched on the event loop until finish_load(), which
  // runs after the last chunk; each chunk is posted to the event loop before the next one is
  // started, so the chunks arrive there in order.
  const std::size_t to = std::min(from + kLoadChunk, to_load_.size());
  std::vector<Loaded> batch;
  batch.reserve(to - from);
  std::vector<std::string> notes;
  for (std::size_t i = from; i < to && !load_stop_; ++i) {
    auto item = store_.load_item(to_load_[i]);
    switch (item.status) {
      case store::LoadedItem::Status::Ok: {
        auto due = queue::next_due(item.envelope);
        item.text.shrink_to_fit();
        queue::CensusSlot state;
        state.state = queue::state_of(item.envelope, false);
        state.arrival = item.envelope.arrival;
        state.held = item.envelope.held;
        batch.push_back({std::move(to_load_[i]), std::move(item.text), due ? *due : -1, state});
        break;
      }
      case store::LoadedItem::Status::Corrupt:
        notes.push_back("warning: corrupt queue file moved to " + store_.directory() +
                        "/corrupt/: " + item.problem);
        break;
      case store::LoadedItem::Status::Error:
        // Left where it is, undelivered until the next start: an I/O error on one file must not
        // keep the rest of the queue (or the server) from running.
        notes.push_back("warning: cannot read the queue file " + store_.envelope_path(to_load_[i]) +
                        ": " + store::to_string(*item.error) +
                        "; not delivered until the next start");
        break;
    }
  }
  const bool last = to >= to_load_.size() || load_stop_;
  asio::post(io_, [this, batch = std::move(batch), notes = std::move(notes), last]() mutable {
    adopt(batch, notes);
    if (last && !load_stop_) finish_load();
  });
  if (!last) post_job(pool_, [this, to] { load_chunk(to); });
}

void QueueRunner::adopt(std::vector<Loaded>& batch, const std::vector<std::string>& notes) {
  for (const auto& n : notes) observer_.queue_note({"", n, true});
  for (auto& l : batch) {
    auto [it, fresh] = items_.try_emplace(std::move(l.name), timeline_, census_);
    if (!fresh) continue;  // cannot happen: the survey's names are not submitted again
    ++loaded_count_;
    Entry& e = it->second;
    e.name = &it->first;
    report_inflight(it->first, l.text);
    e.parked = std::move(l.text);
    census_.set(e.counted, l.state.state, l.state.arrival, l.state.held);
    if (l.due >= 0) e.filed = timeline_.emplace(l.due, &e);
  }
  if (started_) schedule();
}

void QueueRunner::finish_load() {
  loaded_ = true;
  inflight_marks_.clear();  // the rest belong to items that are gone (their results recorded)
  std::vector<std::string>().swap(to_load_);
  observer_.queue_note({"", "queue " + store_.directory() + ": " + std::to_string(loaded_count_) +
                                " message(s) loaded in " +
                                std::to_string(seconds_since(load_started_)) + " s"});
#ifdef __GLIBC__
  // The load's buffers (file texts, chunks) were freed piecemeal between long-lived items:
  // give the free pages back, so that the resident size is the queue's and not the load's.
  ::malloc_trim(0);
#endif
  // ETRN during the load reached only the items loaded by then.
  auto flushed = std::move(flushed_while_loading_);
  for (const auto& d : flushed) flush_domain(d);
}

void QueueRunner::submit(const std::string& name, const queue::QueueEnvelope& env,
                         std::shared_ptr<const std::string> content) {
  asio::post(io_, [this, name, env, content = std::move(content)]() mutable {
    add(name, std::move(env));
    auto it = items_.find(name);
    if (content && it != items_.end() && it->second.live &&
        content_bytes_ + content->size() <= kContentBudget) {
      content_bytes_ += content->size();
      it->second.live->content = std::move(content);
    }
    if (started_) schedule();
  });
}

void QueueRunner::add(std::string name, queue::QueueEnvelope env) {
  auto [it, fresh] = items_.try_emplace(std::move(name), timeline_, census_);
  if (!fresh) return;  // unique names: cannot happen
  Entry& e = it->second;
  e.name = &it->first;
  e.live = std::make_unique<Item>(it->first, std::move(env), &e);
  census_.set(e.counted, e.live->env, false);
  file(*e.live);
}

QueueRunner::Item* QueueRunner::live(Entry& e) {
  if (e.live) return e.live.get();
  auto env = queue::decode_envelope(e.parked);
  if (!env) {
    // Only text that decoded (at load) or that encode_envelope wrote is parked.
    observer_.queue_note({"",
                          "warning: queue item " + *e.name + " no longer decodes (" + env.error() +
                              "); left in the queue directory",
                          true});
    unfile(e);
    return nullptr;
  }
  e.live = std::make_unique<Item>(*e.name, std::move(*env), &e);
  std::string().swap(e.parked);
  return e.live.get();
}

void QueueRunner::unfile(Entry& e) {
  if (e.filed == timeline_.end()) return;
  timeline_.erase(e.filed);
  e.filed = timeline_.end();
}

void QueueRunner::file(Item& item) {
  Entry& e = *item.entry;
  if (auto p = pending_flush_.find(item.name); p != pending_flush_.end()) {
    const std::int64_t t = now();
    for (auto& r : item.env.recipients)
      for (const auto& d : p->second)
        if (queue::is_queued(r.state) && smtp::ascii_iequals(r.mailbox.domain, d))
          r.next_attempt = std::min(r.next_attempt, t);
    pending_flush_.erase(p);
  }
  unfile(e);
  if (item.env.held != 0) return;  // on hold: neither delivered nor expired until released
  auto due = queue::next_due(item.env);
  if (!due) return;
  e.filed = timeline_.emplace(*due, &e);
  if (*due > now() + kParkAfter) park_later(item.name);
}

void QueueRunner::park_later(const std::string& name) {
  // Not now: the caller (an attempt just done) may still hold the Item.
  to_park_.push_back(name);
  if (park_posted_) return;
  park_posted_ = true;
  asio::post(io_, [this] { park_candidates(); });
}

void QueueRunner::park_candidates() {
  park_posted_ = false;
  const std::int64_t t = now();
  for (const auto& name : to_park_) {
    auto it = items_.find(name);
    if (it == items_.end()) continue;
    Entry& e = it->second;
    if (!e.live || e.live->busy || e.filed == timeline_.end() || e.filed->first <= t + kParkAfter)
      continue;
    e.parked = queue::encode_envelope(e.live->env);
    e.parked.shrink_to_fit();
    if (e.live->content) content_bytes_ -= e.live->content->size();
    e.live.reset();
  }
  std::vector<std::string>().swap(to_park_);
}

namespace {

// Whether `text` (a parked envelope) may have a recipient at `domain` (lower case, of letters,
// digits, '-' and '.' only): the domain field of a "rcpt" line, compared without case.
bool may_mention(std::string_view text, std::string_view needle) {
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return smtp::ascii_to_lower(a) == b; });
  return it != text.end();
}

bool plain_domain(std::string_view d) {
  return std::all_of(d.begin(), d.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

}  // namespace

std::size_t QueueRunner::flush_domain(const std::string& domain_in) {
  const std::string domain = smtp::ascii_lower(domain_in);
  const std::int64_t t = now();
  if (!loaded_) flushed_while_loading_.push_back(domain);
  // A parked item is decoded only if its text may name the domain (a recipient's domain field
  // is xtext, which leaves such plain domains as they are).
  const bool quick = plain_domain(domain);
  const std::string needle = " " + domain + " ";
  std::size_t n = 0;
  bool any = false;
  for (auto& [name, entry] : items_) {
    if (!entry.live && quick && !may_mention(entry.parked, needle)) continue;
    const bool was_parked = !entry.live;
    Item* item = live(entry);
    if (item == nullptr) continue;
    bool touched = false;
    for (auto& r : item->env.recipients) {
      if (!queue::is_queued(r.state) || !smtp::ascii_iequals(r.mailbox.domain, domain)) continue;
      r.next_attempt = std::min(r.next_attempt, t);
      touched = true;
      ++n;
    }
    if (touched && item->busy) pending_flush_[name].push_back(domain);
    if (touched && !item->busy) file(*item);
    if (!touched && was_parked) park_later(name);  // decoded for nothing: parked again
    any = any || touched;
  }
  if (any) {
    // RFC 1985: the client says it is up now; its hold-back ends.
    auto key = queue::route_for(domain, cfg_.routing).key();
    if (auto it = destinations_.find(key); it != destinations_.end()) it->second.state.answered();
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
    Entry& e = *timeline_.begin()->second;
    unfile(e);
    Item* live_item = live(e);
    if (live_item == nullptr || live_item->busy) continue;  // re-filed when done
    Item& item = *live_item;
    const std::string& name = item.name;
    if (t >= queue::lifetime_deadline(item.env.arrival, cfg_.retry)) {
      set_busy(item, true);
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
        d.state = queue::DestinationState(destination_policy());
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
  for (auto it = d.ready.begin(); it != d.ready.end();) {
    auto found = items_.find(*it);
    Item* item = found == items_.end() ? nullptr : live(found->second);
    // Gone, or put on hold (taube queue hold) while it waited for a connection.
    if (item == nullptr || (item->env.held != 0 && !item->busy)) {
      d.queued.erase(*it);
      it = d.ready.erase(it);
      continue;
    }
    if (item->busy) {
      ++it;
      continue;
    }
    std::string name = *it;
    d.ready.erase(it);
    d.queued.erase(name);
    set_busy(*item, true);
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

void QueueRunner::report_opened(const OutboundTarget& target, const OutboundConnection* conn,
                                OpenResult result, const std::string& error,
                                std::chrono::steady_clock::time_point started) {
  events::OutboundOpened e;
  e.relay = target.relay();
  e.result = to_string(conn ? OpenResult::Ok : result);
  if (!conn) e.reason = error;
  if (conn && conn->tls()) {
    e.tls_version = conn->tls_version();
    e.tls_cipher = conn->tls_cipher();
  }
  e.seconds = seconds_since(started);
  observer_.outbound_opened(e);
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
    if (resolved.status == ResolvedNexthop::Status::PermFail) {
      failure_outcome = AttemptOutcome::Failed;
    } else if (!stopping_) {
      // No address to connect to yet (a DNS failure): the destination is unreachable.
      note_outcome(key, queue::AttemptKind::ConnectionError, 1, error);
    }
  } else {
    // RFC 5321 §5.1: try the addresses in order; Postfix stops after two SMTP sessions.
    int sessions = 0;
    std::function<void()> cut;  // the shutdown grace's handle on the opening (opening_)
    for (const auto& target : resolved.targets) {
      if (stopping_) break;
      const bool plaintext = d.plaintext_until > now();
      auto config = client_config(d, plaintext);
      std::optional<smtp::client::SessionFailure> failure;
      OpenResult result = OpenResult::Error;
      auto opened_at = std::chrono::steady_clock::now();
      opening_.insert(&cut);
      conn = co_await OutboundConnection::open(io_, target, config, tls_, cfg_.connect_timeout,
                                               error, failure, &cut, nullptr, &result);
      opening_.erase(&cut);
      report_opened(target, conn.get(), result, error, opened_at);
      if (!conn) note_open_failure(key, result, failure, error);
      if (!conn && failure && failure->tls_failed && d.hop.tls == queue::TlsUse::Opportunistic &&
          !plaintext && !stopping_) {
        // Opportunistic TLS that fails must not hold the mail (RFC 7435 §3): again in
        // plaintext, and remember the destination for a while.
        d.plaintext_until = now() + cfg_.tls_fallback_memory.count();
        observer_.queue_note({"",
                              "warning: " + error + "; trying " + target.relay() + " without TLS",
                              true, "smtp"});
        auto plain = client_config(d, true);
        failure.reset();
        opened_at = std::chrono::steady_clock::now();
        opening_.insert(&cut);
        conn = co_await OutboundConnection::open(io_, target, plain, tls_, cfg_.connect_timeout,
                                                 error, failure, &cut, nullptr, &result);
        opening_.erase(&cut);
        report_opened(target, conn.get(), result, error, opened_at);
        if (!conn) note_open_failure(key, result, failure, error);
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
      Item& item = *items_.at(name).live;
      auto rcpts = due_recipients(item, key, now());
      // A permanent failure for the destination (no such domain, null MX) bounces each
      // recipient; a connection that failed was counted above, once, not per recipient.
      if (failure_outcome == AttemptOutcome::Failed)
        note_outcome(key, queue::AttemptKind::Bounced, rcpts.size(), error);
      const std::string no_relay = "none";
      item.facts = {true, d.hop.host, "", false, setup};  // for the delivery history
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
      Item& item = *items_.at(name).live;
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
