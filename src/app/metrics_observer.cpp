#include "app/metrics_observer.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "queue/census.hpp"
#include "smtp/wire/command_parser.hpp"
#include "store/commit_stats.hpp"

namespace taube::app {

namespace {

// Delivery delays from a fraction of a second (a local Maildir) to the five days of the default
// maximal_queue_lifetime.
const metrics::Buckets kDelayBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,   1,     2.5,   5,
                                        10,    30,   60,    300,  900, 3600, 14400, 86400, 432000};
// 1 KiB .. 64 MiB by powers of four.
const metrics::Buckets kSizeBuckets = metrics::exponential_buckets(1024, 4, 9);

// Postfix's delays=a/b/c/d (events::Delivery::delays): before the queue manager, in the queue,
// connection setup (DNS, HELO, TLS), message transmission.
constexpr const char* kStages[4] = {"before_queue", "in_queue", "connection_setup", "transmission"};

// The journal batch sizes, as the store counts them (store::CommitStats::kBatchBounds).
metrics::Buckets batch_buckets() {
  metrics::Buckets b;
  for (auto v : store::CommitStats::kBatchBounds) b.push_back(static_cast<double>(v));
  return b;
}

constexpr queue::QueueState kStates[queue::kQueueStates] = {
    queue::QueueState::Incoming, queue::QueueState::Active, queue::QueueState::Deferred,
    queue::QueueState::Hold};

std::string verb_label(smtp::Verb v) {
  return std::string(smtp::verb_name(v));
}

}  // namespace

std::string refusal_class(const std::string& reason) {
  if (reason.starts_with("too many connections")) return "limit";
  if (reason.starts_with("banned")) return "auth_ban";
  if (reason.starts_with("client talked before")) return "pregreet";
  if (reason.find("PROXY") != std::string::npos) return "proxy";
  if (reason.starts_with("accept")) return "accept_error";
  return "other";
}

std::string mechanism_label(const std::string& mechanism) {
  std::string m = mechanism;
  for (char& c : m)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (const char* known : {"PLAIN", "LOGIN", "SCRAM-SHA-256", "CRAM-MD5", "XOAUTH2"})
    if (m == known) return m;
  // A client may name anything; it must not become a label value of its own.
  return m.empty() ? "none" : "other";
}

std::string dsn_class(const std::string& dsn) {
  if (!dsn.empty() && (dsn[0] == '2' || dsn[0] == '4' || dsn[0] == '5'))
    return std::string(1, dsn[0]);
  return "none";
}

std::string outbound_result(const std::string& r) {
  for (const char* known :
       {"ok", "refused", "timeout", "unreachable", "tls_failed", "rejected", "lost", "cut"})
    if (r == known) return r;
  return "error";
}

std::string attempt_label(std::uint32_t attempt) {
  if (attempt == 0) return "local";
  return attempt >= 4 ? "4+" : std::to_string(attempt);
}

MetricsObserver::MetricsObserver() : MetricsObserver(TAUBE_VERSION, TAUBE_GIT_REVISION) {}

MetricsObserver::MetricsObserver(const std::string& version, const std::string& git)
    : build_info_(reg_.gauge("taube_build_info",
                             "Build of the running taube (always 1; the labels carry the value).",
                             {"version", "git"})),
      connections_(reg_.counter("taube_smtp_connections_total",
                                "Inbound SMTP connections that reached a session, by listener.",
                                {"listener"})),
      refused_(reg_.counter("taube_smtp_connections_refused_total",
                            "Inbound connections refused before or instead of a session.",
                            {"listener", "reason"})),
      active_(reg_.gauge("taube_smtp_connections_active", "Inbound SMTP connections open now.")),
      disconnections_(reg_.counter("taube_smtp_disconnections_total",
                                   "Ends of inbound sessions: quit (or our 421), lost, timeout.",
                                   {"listener", "how"})),
      rejects_(reg_.counter("taube_smtp_rejects_total",
                            "Commands answered with a 4xx or 5xx reply, by verb and reply code.",
                            {"verb", "code"})),
      tls_(reg_.counter("taube_tls_handshakes_total", "Completed TLS handshakes, by version.",
                        {"direction", "version"})),
      tls_failures_(reg_.counter("taube_tls_handshake_failures_total", "Failed TLS handshakes.",
                                 {"direction"})),
      auth_(reg_.counter("taube_smtp_auth_total", "AUTH exchanges by mechanism and result.",
                         {"mechanism", "result"})),
      auth_bans_(reg_.counter("taube_smtp_auth_bans_total",
                              "Client addresses banned after repeated AUTH failures.")),
      transactions_(reg_.counter("taube_smtp_transactions_total",
                                 "Inbound mail transactions at the end of data, by result.",
                                 {"result"})),
      recipients_(reg_.counter("taube_smtp_recipients_total",
                               "Recipients of accepted messages, by where they went.",
                               {"destination"})),
      message_size_(reg_.histogram("taube_smtp_message_size_bytes", "Sizes of accepted messages.",
                                   kSizeBuckets)),
      bare_newlines_(reg_.counter("taube_smtp_bare_newline_messages_total",
                                  "Messages with bare CR or LF line ends.")),
      deliveries_(reg_.counter("taube_deliveries_total",
                               "Delivery outcomes per recipient (Postfix's status=), by DSN class.",
                               {"status", "dsn_class"})),
      attempts_(reg_.counter("taube_delivery_attempts_total",
                             "Delivery outcomes per recipient by the attempt they ended "
                             "(1, 2, 3, 4+; local: a notice into a local Maildir).",
                             {"attempt", "status"})),
      delay_(reg_.histogram("taube_delivery_delay_seconds",
                            "Time from arrival to each delivery outcome (Postfix's delay=).",
                            kDelayBuckets, {"status"})),
      stage_delay_(reg_.histogram("taube_delivery_stage_delay_seconds",
                                  "Postfix's delays=a/b/c/d of each delivery outcome: before the "
                                  "queue, in the queue, connection setup, transmission.",
                                  kDelayBuckets, {"stage"})),
      queue_warnings_(reg_.counter("taube_queue_warnings_total",
                                   "Queue manager warnings (corrupt items moved aside, ...).")),
      queue_messages_(reg_.gauge("taube_queue_messages",
                                 "Messages in the outbound queue now, by Postfix's queue names "
                                 "(incoming, active, deferred, hold).",
                                 {"state"})),
      queue_oldest_(reg_.gauge("taube_queue_oldest_message_age_seconds",
                               "Seconds since the arrival of the oldest message in each state "
                               "(0 when the state is empty).",
                               {"state"})),
      queue_hold_oldest_(reg_.gauge("taube_queue_hold_oldest_seconds",
                                    "Seconds since the message on hold longest was put on hold "
                                    "(0 when none is held).")),
      outbound_connections_(reg_.counter("taube_outbound_connections_total",
                                         "Outbound connections the queue opened, by result.",
                                         {"result"})),
      journal_commits_(reg_.counter("taube_journal_commits_total",
                                    "Group commits (one fdatasync or syncfs each) by journal and "
                                    "result.",
                                    {"journal", "result"})),
      journal_batch_(reg_.histogram("taube_journal_commit_batch_size",
                                    "Messages (queue_files: callers) covered by one successful "
                                    "group commit.",
                                    batch_buckets(), {"journal"})),
      pool_threads_(reg_.gauge("taube_disk_pool_threads", "Threads of the disk worker pool.")),
      pool_jobs_(reg_.gauge("taube_disk_pool_jobs",
                            "Jobs of the disk worker pool now: queued (waiting for a thread) "
                            "and running.",
                            {"state"})),
      pool_done_(
          reg_.counter("taube_disk_pool_jobs_total", "Jobs the disk worker pool has finished.")),
      outbound_open_(reg_.gauge("taube_outbound_connections_open",
                                "Outbound SMTP/LMTP connections carrying mail now, by TLS version.",
                                {"tls"})),
      outbound_opening_(reg_.gauge("taube_outbound_connections_opening",
                                   "Outbound connections being set up now (connect, TLS, EHLO).")),
      http_requests_(reg_.counter("taube_http_requests_total",
                                  "Answers of the metrics listener, by route (\"other\" for "
                                  "none) and status.",
                                  {"route", "code"})) {
  build_info_.with({version, git}).set(1);
  // Families without labels show 0 from the start, so that rate() and alerts see them at once.
  active_.get();
  auth_bans_.get();
  bare_newlines_.get();
  queue_warnings_.get();
  message_size_.get();
  outbound_opening_.get();
  for (auto st : kStates) {
    queue_messages_.with({std::string(queue::state_name(st))});
    queue_oldest_.with({std::string(queue::state_name(st))});
  }
  queue_hold_oldest_.get();
  pool_threads_.get();
  pool_jobs_.with({"queued"});
  pool_jobs_.with({"running"});
  pool_done_.get();
}

void MetricsObserver::attach(net::Server& server) {
  net::HttpServer* http = server.http();
  if (!http) return;
  server.observe(*this);
  http->route("/metrics", [this, &server](const net::HttpRequest&) {
    net::HttpResponse r;
    // The text format's own media type (exposition_formats.md, "Basic info").
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = scrape(&server);
    return r;
  });
  http->on_response([this](const std::string& route, int status) {
    http_requests_.with({route, std::to_string(status)}).inc();
  });
  http->route("/healthz", [&server](const net::HttpRequest&) {
    net::HttpResponse r;
    // 503 once a stop began: a load balancer takes the server out while it drains.
    r.status = server.stopping() ? 503 : 200;
    r.body = server.stopping() ? "stopping\n" : "ok\n";
    return r;
  });
}

std::string MetricsObserver::scrape(net::Server* server) {
  if (server) {
    active_.get().set(static_cast<double>(server->connections()));
    const net::QueueRunner* q = server->queue();
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    auto age = [now](std::optional<std::int64_t> since) {
      return since ? static_cast<double>(std::max<std::int64_t>(0, now - *since)) : 0.0;
    };
    for (auto st : kStates) {
      const std::string name(queue::state_name(st));
      queue_messages_.with({name}).set(q ? static_cast<double>(q->census().count(st)) : 0);
      queue_oldest_.with({name}).set(q ? age(q->census().oldest_arrival(st)) : 0);
    }
    queue_hold_oldest_.get().set(q ? age(q->census().oldest_hold()) : 0);
    auto commits = [this](const std::string& journal, const store::CommitStats::Snapshot& s) {
      journal_commits_.with({journal, "ok"}).set_total(s.commits);
      journal_commits_.with({journal, "failed"}).set_total(s.failures);
      journal_batch_.with({journal}).assign({s.buckets.begin(), s.buckets.end()},
                                            static_cast<double>(s.records));
    };
    if (const auto* j = server->delivery_journal())
      commits("delivery", j->commit_stats().snapshot());
    if (q) {
      if (auto s = q->store().journal_commits()) commits("queue", *s);
      commits("queue_files", q->store().file_commits());
    }
    const auto pool = server->disk_pool();
    pool_threads_.get().set(static_cast<double>(server->config().worker_threads));
    pool_jobs_.with({"queued"}).set(static_cast<double>(pool.queued));
    pool_jobs_.with({"running"}).set(static_cast<double>(pool.running));
    pool_done_.get().set_total(pool.done);
    const auto conns = q ? q->connection_counts() : net::QueueRunner::ConnectionCounts{};
    outbound_opening_.get().set(static_cast<double>(conns.opening));
    // A version seen once stays as a series at 0, so a graph does not break when the last
    // connection of that kind closes.
    for (const auto& v : outbound_tls_seen_)
      if (!conns.open_by_tls.count(v)) outbound_open_.with({v.empty() ? "none" : v}).set(0);
    for (const auto& [v, n] : conns.open_by_tls) {
      outbound_open_.with({v.empty() ? "none" : v}).set(static_cast<double>(n));
      outbound_tls_seen_.insert(v);
    }
  }
  return reg_.render();
}

void MetricsObserver::connected(const events::Connected& e) {
  connections_.with({e.peer.listener}).inc();
}

void MetricsObserver::refused(const events::Refused& e) {
  refused_.with({e.peer.listener, refusal_class(e.reason)}).inc();
}

void MetricsObserver::rejected(const events::Rejected& e) {
  rejects_.with({verb_label(e.verb), std::to_string(e.reply.code)}).inc();
}

void MetricsObserver::tls_established(const events::TlsEstablished& e) {
  tls_.with({"in", e.version.empty() ? "unknown" : e.version}).inc();
}

void MetricsObserver::tls_failed(const events::TlsFailed&) {
  tls_failures_.with({"in"}).inc();
}

void MetricsObserver::auth_succeeded(const events::AuthSucceeded& e) {
  auth_.with({mechanism_label(e.mechanism), "success"}).inc();
}

void MetricsObserver::auth_failed(const events::AuthFailed& e) {
  auth_.with({mechanism_label(e.mechanism), "failure"}).inc();
  if (e.banned) auth_bans_.get().inc();
}

void MetricsObserver::transaction(const events::Transaction& e) {
  // accepted; or refused at the end of data, temporarily (4xx: disk full, journal) or for good.
  const char* result = e.accepted ? "accepted" : e.reply.transient() ? "deferred" : "rejected";
  transactions_.with({result}).inc();
  if (!e.accepted) return;
  message_size_.get().observe(static_cast<double>(e.size));
  if (!e.mailboxes.empty()) recipients_.with({"mailbox"}).inc(e.mailboxes.size());
  if (!e.relayed.empty()) recipients_.with({"queue"}).inc(e.relayed.size());
}

void MetricsObserver::bare_newlines(const events::BareNewlines&) {
  bare_newlines_.get().inc();
}

void MetricsObserver::disconnected(const events::Disconnected& e) {
  const char* how = e.timed_out ? "timeout" : e.lost ? "lost" : "quit";
  disconnections_.with({e.peer.listener, how}).inc();
}

void MetricsObserver::delivery(const events::Delivery& e) {
  // Only the four words Postfix logs; anything else would be a bug, counted apart.
  std::string status = e.status;
  if (status != "sent" && status != "deferred" && status != "bounced" && status != "expired")
    status = "other";
  deliveries_.with({status, dsn_class(e.dsn)}).inc();
  attempts_.with({attempt_label(e.attempt), status}).inc();
  delay_.with({status}).observe(e.delay);
  for (int i = 0; i < 4; ++i) stage_delay_.with({kStages[i]}).observe(e.delays[i]);
}

void MetricsObserver::outbound_opened(const events::OutboundOpened& e) {
  const std::string result = outbound_result(e.result);
  outbound_connections_.with({result}).inc();
  if (result == "ok" && !e.tls_version.empty()) tls_.with({"out", e.tls_version}).inc();
  if (result == "tls_failed") tls_failures_.with({"out"}).inc();
}

void MetricsObserver::queue_note(const events::QueueNote& e) {
  if (e.warning) queue_warnings_.get().inc();
}

}  // namespace taube::app
