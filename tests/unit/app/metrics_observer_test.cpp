// MetricsObserver: each event moves its family by one, with bounded label values.
#include "app/metrics_observer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace taube::app {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

events::Peer peer() {
  events::Peer p;
  p.address = "192.0.2.1";
  p.listener = "127.0.0.1:25";
  return p;
}

TEST(MetricsObserver, StartsWithBuildInfoAndZeroes) {
  MetricsObserver m("1.2.3", "abc123");
  const std::string t = m.scrape(nullptr);
  EXPECT_TRUE(has(t, "taube_build_info{version=\"1.2.3\",git=\"abc123\"} 1")) << t;
  EXPECT_TRUE(has(t, "taube_smtp_auth_bans_total 0")) << t;
  for (const char* st : {"incoming", "active", "deferred", "hold"}) {
    EXPECT_TRUE(has(t, std::string("taube_queue_messages{state=\"") + st + "\"} 0")) << t;
    EXPECT_TRUE(
        has(t, std::string("taube_queue_oldest_message_age_seconds{state=\"") + st + "\"} 0"));
  }
  EXPECT_TRUE(has(t, "taube_queue_hold_oldest_seconds 0"));
  EXPECT_TRUE(has(t, "taube_disk_pool_jobs{state=\"queued\"} 0"));
  EXPECT_TRUE(has(t, "taube_disk_pool_jobs_total 0"));
  EXPECT_TRUE(has(t, "# TYPE taube_smtp_message_size_bytes histogram")) << t;
  // Labelled families appear with their first sample.
  EXPECT_EQ(t.find("taube_smtp_rejects_total"), std::string::npos);
}

TEST(MetricsObserver, SessionEvents) {
  MetricsObserver m("1", "g");
  m.connected({peer(), false});
  m.connected({peer(), false});
  m.refused({peer(), "too many connections from this client", {}});
  m.refused({peer(), "bad PROXY protocol header: x", {}});
  events::Rejected rj;
  rj.peer = peer();
  rj.verb = smtp::Verb::Rcpt;
  rj.reply.code = 554;
  rj.to = "victim@example.com";  // never a label
  m.rejected(rj);
  m.tls_established({peer(), "TLSv1.3", "TLS_AES_256_GCM_SHA384"});
  m.tls_failed({peer(), "wrong version number"});
  m.auth_failed({peer(), "plain", "alice", true});
  m.auth_failed({peer(), "X-EVIL-\"MECH\"", "mallory", false});
  m.auth_succeeded({peer(), "SCRAM-SHA-256", "bob"});
  events::Transaction tx;
  tx.peer = peer();
  tx.accepted = true;
  tx.size = 2000;
  tx.mailboxes = {"a", "b"};
  tx.relayed = {"c"};
  m.transaction(tx);
  tx.accepted = false;
  tx.reply.code = 452;
  m.transaction(tx);
  tx.reply.code = 554;
  m.transaction(tx);
  events::Disconnected d;
  d.peer = peer();
  d.lost = true;
  m.disconnected(d);
  d.timed_out = true;
  m.disconnected(d);
  const std::string t = m.scrape(nullptr);
  EXPECT_TRUE(has(t, "taube_smtp_connections_total{listener=\"127.0.0.1:25\"} 2")) << t;
  EXPECT_TRUE(has(t,
                  "taube_smtp_connections_refused_total{listener=\"127.0.0.1:25\","
                  "reason=\"limit\"} 1"));
  EXPECT_TRUE(has(t,
                  "taube_smtp_connections_refused_total{listener=\"127.0.0.1:25\","
                  "reason=\"proxy\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_rejects_total{verb=\"RCPT\",code=\"554\"} 1")) << t;
  EXPECT_EQ(t.find("victim"), std::string::npos);
  EXPECT_EQ(t.find("192.0.2.1"), std::string::npos);
  EXPECT_TRUE(has(t, "taube_tls_handshakes_total{direction=\"in\",version=\"TLSv1.3\"} 1"));
  EXPECT_TRUE(has(t, "taube_tls_handshake_failures_total{direction=\"in\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_auth_total{mechanism=\"PLAIN\",result=\"failure\"} 1")) << t;
  EXPECT_TRUE(has(t, "taube_smtp_auth_total{mechanism=\"other\",result=\"failure\"} 1")) << t;
  EXPECT_TRUE(has(t, "taube_smtp_auth_total{mechanism=\"SCRAM-SHA-256\",result=\"success\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_auth_bans_total 1"));
  EXPECT_TRUE(has(t, "taube_smtp_transactions_total{result=\"accepted\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_transactions_total{result=\"deferred\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_transactions_total{result=\"rejected\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_recipients_total{destination=\"mailbox\"} 2"));
  EXPECT_TRUE(has(t, "taube_smtp_recipients_total{destination=\"queue\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_message_size_bytes_bucket{le=\"1024\"} 0"));
  EXPECT_TRUE(has(t, "taube_smtp_message_size_bytes_bucket{le=\"4096\"} 1"));
  EXPECT_TRUE(has(t, "taube_smtp_message_size_bytes_sum 2000"));
  EXPECT_TRUE(has(t, "taube_smtp_disconnections_total{listener=\"127.0.0.1:25\",how=\"lost\"} 1"));
  EXPECT_TRUE(
      has(t, "taube_smtp_disconnections_total{listener=\"127.0.0.1:25\",how=\"timeout\"} 1"));
}

TEST(MetricsObserver, DeliveriesAndTheirStages) {
  MetricsObserver m("1", "g");
  events::Delivery d;
  d.status = "sent";
  d.dsn = "2.0.0";
  d.delay = 0.3;
  d.delays[0] = 0.001;
  d.delays[1] = 0.2;
  d.delays[2] = 0.04;
  d.delays[3] = 2;
  m.delivery(d);
  d.status = "deferred";
  d.dsn = "4.4.1";
  m.delivery(d);
  d.status = "weird";
  d.dsn = "";
  m.delivery(d);
  const std::string t = m.scrape(nullptr);
  EXPECT_TRUE(has(t, "taube_deliveries_total{status=\"sent\",dsn_class=\"2\"} 1")) << t;
  EXPECT_TRUE(has(t, "taube_deliveries_total{status=\"deferred\",dsn_class=\"4\"} 1"));
  EXPECT_TRUE(has(t, "taube_deliveries_total{status=\"other\",dsn_class=\"none\"} 1"));
  EXPECT_TRUE(has(t, "taube_delivery_delay_seconds_bucket{status=\"sent\",le=\"0.25\"} 0"));
  EXPECT_TRUE(has(t, "taube_delivery_delay_seconds_bucket{status=\"sent\",le=\"0.5\"} 1"));
  EXPECT_TRUE(has(t, "taube_delivery_stage_delay_seconds_count{stage=\"before_queue\"} 3"));
  EXPECT_TRUE(
      has(t, "taube_delivery_stage_delay_seconds_bucket{stage=\"transmission\",le=\"1\"} 0"));
  EXPECT_TRUE(
      has(t, "taube_delivery_stage_delay_seconds_bucket{stage=\"transmission\",le=\"2.5\"} 3"));
  EXPECT_TRUE(
      has(t, "taube_delivery_stage_delay_seconds_bucket{stage=\"in_queue\",le=\"0.25\"} 3"));
  events::QueueNote n;
  n.warning = true;
  m.queue_note(n);
  n.warning = false;
  m.queue_note(n);
  EXPECT_TRUE(has(m.scrape(nullptr), "taube_queue_warnings_total 1"));
}

TEST(MetricsObserver, OutboundConnectionsAndTlsOut) {
  MetricsObserver m("1", "g");
  events::OutboundOpened e;
  e.relay = "mx.remote.test[192.0.2.1]:25";
  e.result = "ok";
  e.tls_version = "TLSv1.3";
  m.outbound_opened(e);
  e.tls_version.clear();  // plaintext: no handshake
  m.outbound_opened(e);
  e.result = "tls_failed";
  m.outbound_opened(e);
  e.result = "refused";
  m.outbound_opened(e);
  e.result = "something new";
  m.outbound_opened(e);
  const std::string t = m.scrape(nullptr);
  EXPECT_TRUE(has(t, "taube_outbound_connections_total{result=\"ok\"} 2")) << t;
  EXPECT_TRUE(has(t, "taube_outbound_connections_total{result=\"tls_failed\"} 1"));
  EXPECT_TRUE(has(t, "taube_outbound_connections_total{result=\"refused\"} 1"));
  EXPECT_TRUE(has(t, "taube_outbound_connections_total{result=\"error\"} 1"));
  EXPECT_TRUE(has(t, "taube_tls_handshakes_total{direction=\"out\",version=\"TLSv1.3\"} 1"));
  EXPECT_TRUE(has(t, "taube_tls_handshake_failures_total{direction=\"out\"} 1"));
}

TEST(MetricsObserver, DeliveriesByAttempt) {
  MetricsObserver m("1", "g");
  events::Delivery d;
  d.status = "deferred";
  for (std::uint32_t a : {1u, 2u, 3u, 4u, 9u}) {
    d.attempt = a;
    m.delivery(d);
  }
  d.status = "sent";
  d.attempt = 0;
  m.delivery(d);
  const std::string t = m.scrape(nullptr);
  EXPECT_TRUE(has(t, "taube_delivery_attempts_total{attempt=\"1\",status=\"deferred\"} 1")) << t;
  EXPECT_TRUE(has(t, "taube_delivery_attempts_total{attempt=\"3\",status=\"deferred\"} 1"));
  EXPECT_TRUE(has(t, "taube_delivery_attempts_total{attempt=\"4+\",status=\"deferred\"} 2"));
  EXPECT_TRUE(has(t, "taube_delivery_attempts_total{attempt=\"local\",status=\"sent\"} 1"));
}

TEST(MetricsObserver, LabelHelpers) {
  EXPECT_EQ(outbound_result("timeout"), "timeout");
  EXPECT_EQ(outbound_result(""), "error");
  EXPECT_EQ(attempt_label(1), "1");
  EXPECT_EQ(attempt_label(4), "4+");
  EXPECT_EQ(attempt_label(0), "local");
  EXPECT_EQ(refusal_class("banned after repeated authentication failures"), "auth_ban");
  EXPECT_EQ(refusal_class("client talked before the greeting"), "pregreet");
  EXPECT_EQ(refusal_class("accept: Too many open files"), "accept_error");
  EXPECT_EQ(refusal_class("something new"), "other");
  EXPECT_EQ(mechanism_label("login"), "LOGIN");
  EXPECT_EQ(mechanism_label(""), "none");
  EXPECT_EQ(mechanism_label("GSSAPI"), "other");
  EXPECT_EQ(dsn_class("5.1.1"), "5");
  EXPECT_EQ(dsn_class("x"), "none");
}

}  // namespace
}  // namespace taube::app
