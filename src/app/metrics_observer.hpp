// MetricsObserver: the session and delivery events (events/observer.hpp) counted into Prometheus
// metrics (src/metrics), and the operator's HTTP routes /metrics and /healthz on the server's
// HTTP listener. Every metric, its type and labels: docs/metrics.md. Labels are kept few on
// purpose (listener, verb, reply code, status, DSN class, TLS version, mechanism): never a mail
// or client address, so a scan from many addresses cannot grow the exposition.
#pragma once

#include <set>
#include <string>

#include "events/observer.hpp"
#include "metrics/registry.hpp"
#include "net/server.hpp"

namespace taube::app {

class MetricsObserver final : public events::Observer {
 public:
  // Registers every metric. `version` and `git` go into taube_build_info (by default this
  // build's: the project version and `git describe` at configure time).
  MetricsObserver();
  MetricsObserver(const std::string& version, const std::string& git);

  // Subscribes to `server`'s events and answers /metrics and /healthz on its HTTP listener, when
  // [metrics] listen configured one; otherwise does nothing (no listener, no counting).
  void attach(net::Server& server);

  // The exposition with the gauges read from `server` now (queue length, open connections).
  std::string scrape(net::Server* server);

  void connected(const events::Connected& e) override;
  void refused(const events::Refused& e) override;
  void rejected(const events::Rejected& e) override;
  void tls_established(const events::TlsEstablished& e) override;
  void tls_failed(const events::TlsFailed& e) override;
  void auth_succeeded(const events::AuthSucceeded& e) override;
  void auth_failed(const events::AuthFailed& e) override;
  void transaction(const events::Transaction& e) override;
  void bare_newlines(const events::BareNewlines& e) override;
  void disconnected(const events::Disconnected& e) override;
  void delivery(const events::Delivery& e) override;
  void queue_note(const events::QueueNote& e) override;
  void outbound_opened(const events::OutboundOpened& e) override;

 private:
  metrics::Registry reg_;
  metrics::Family<metrics::Gauge>& build_info_;
  metrics::Family<metrics::Counter>& connections_;
  metrics::Family<metrics::Counter>& refused_;
  metrics::Family<metrics::Gauge>& active_;
  metrics::Family<metrics::Counter>& disconnections_;
  metrics::Family<metrics::Counter>& rejects_;
  metrics::Family<metrics::Counter>& tls_;
  metrics::Family<metrics::Counter>& tls_failures_;
  metrics::Family<metrics::Counter>& auth_;
  metrics::Family<metrics::Counter>& auth_bans_;
  metrics::Family<metrics::Counter>& transactions_;
  metrics::Family<metrics::Counter>& recipients_;
  metrics::Family<metrics::Histogram>& message_size_;
  metrics::Family<metrics::Counter>& bare_newlines_;
  metrics::Family<metrics::Counter>& deliveries_;
  metrics::Family<metrics::Counter>& attempts_;
  metrics::Family<metrics::Histogram>& delay_;
  metrics::Family<metrics::Histogram>& stage_delay_;
  metrics::Family<metrics::Counter>& queue_warnings_;
  metrics::Family<metrics::Gauge>& queue_messages_;
  metrics::Family<metrics::Gauge>& queue_oldest_;
  metrics::Family<metrics::Gauge>& queue_hold_oldest_;
  metrics::Family<metrics::Counter>& outbound_connections_;
  metrics::Family<metrics::Counter>& journal_commits_;
  metrics::Family<metrics::Histogram>& journal_batch_;
  metrics::Family<metrics::Gauge>& pool_threads_;
  metrics::Family<metrics::Gauge>& pool_jobs_;
  metrics::Family<metrics::Counter>& pool_done_;
  metrics::Family<metrics::Gauge>& outbound_open_;
  metrics::Family<metrics::Gauge>& outbound_opening_;
  metrics::Family<metrics::Counter>& http_requests_;
  std::set<std::string> outbound_tls_seen_;  // scrape() runs on the event loop only
};

// Label helpers (exposed for the tests): a refusal's reason as one of a few words, an AUTH
// mechanism as one of the known names or "other", a DSN's class digit ("2", "4", "5", or
// "none").
std::string refusal_class(const std::string& reason);
std::string mechanism_label(const std::string& mechanism);
std::string dsn_class(const std::string& dsn);
// An outbound connection's result as one of the words of events::OutboundOpened ("error" for
// anything else).
std::string outbound_result(const std::string& result);
// Which attempt an outcome ended, as a label: "1", "2", "3", "4+" ("local" for 0: a notice
// filed into a local Maildir, not an attempt).
std::string attempt_label(std::uint32_t attempt);

}  // namespace taube::app
