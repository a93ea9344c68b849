// The I/O layer's configuration: listeners, timeouts, TLS, and the rules it hands to policy.
// src/app builds it from the TOML file; each module gets its typed part.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "inet/cidr.hpp"
#include "net/http_config.hpp"
#include "net/outbound_config.hpp"
#include "net/tls_context.hpp"
#include "policy/auth_throttle.hpp"
#include "policy/connect_policy.hpp"
#include "policy/recipient_policy.hpp"
#include "policy/sender_policy.hpp"
#include "smtp/server/server_session.hpp"

namespace taube::net {

// How a listener uses TLS: not at all, STARTTLS offered (RFC 3207), STARTTLS required before
// MAIL, or implicit TLS from the first octet (RFC 8314 §3, port 465).
enum class TlsMode { None, StartTls, Required, Implicit };

struct ListenerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2525;
  TlsMode tls = TlsMode::StartTls;               // only effective when a certificate is configured
  bool submission = false;                       // RFC 6409: AUTH required before MAIL
  bool auth = true;                              // offer AUTH (when a users file is configured)
  bool plaintext_auth = false;                   // also offer AUTH without TLS (not recommended)
  smtp::Dialect protocol = smtp::Dialect::Smtp;  // LMTP (RFC 2033): never on port 25
  // HAProxy's PROXY protocol v1/v2 before anything else, accepted only from these networks
  // (a connection from elsewhere, or without a valid header, is closed).
  bool proxy_protocol = false;
  std::vector<inet::Cidr> proxy_networks;
  // The local submission socket (net/submit_server.hpp): relaying allowed without AUTH, the
  // peer's uid in the logs and the Received header, no pregreet wait. Not a TOML key.
  bool local_submission = false;

  friend bool operator==(const ListenerConfig&, const ListenerConfig&) = default;
};

struct AuthConfig {
  std::string users_file;  // empty: no AUTH anywhere
  std::chrono::milliseconds failure_delay = std::chrono::seconds(1);
  policy::ThrottleRules throttle;
};

struct ServerConfig {
  std::vector<ListenerConfig> listeners = {ListenerConfig{}};
  smtp::SessionConfig session;
  policy::ConnectRules connect;
  policy::SenderRules senders;
  policy::RelayRules relay;
  // The outbound queue: where relayed mail waits, and how it is delivered.
  OutboundConfig outbound;
  AuthConfig auth;
  // RFC 5321 §4.5.3.2.7: at least 5 minutes awaiting a command.
  std::chrono::milliseconds command_timeout = std::chrono::minutes(5);
  // Waiting for the next block of message content (RFC 5321 §4.5.3.2.6 gives the client 3 min per
  // block and 10 min for the final reply; a server should be at least as patient).
  std::chrono::milliseconds data_timeout = std::chrono::minutes(10);
  // A PROXY header must arrive this soon after the connection (HAProxy sends it at once).
  std::chrono::milliseconds proxy_timeout = std::chrono::seconds(10);
  std::vector<inet::Cidr> bare_newline_exempt;
  // Disk threads: fsyncs of many sessions in flight together are merged by the file system's
  // journal, so throughput grows with the number of concurrent commits.
  std::size_t worker_threads = 32;
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  bool discard = false;  // protocol-only mode: accept and drop (benchmarks)
  // The delivery journal (store/delivery_journal.hpp): a 250 once the message is durable there;
  // Maildir files follow in batches. Empty: every message is fsynced into its Maildir directly.
  std::string journal_path;
  std::uint64_t journal_size = 32u << 20;
  // Wait this long before the greeting; a client that talks first is no real MTA (RFC 5321
  // §4.3.1: the client waits for the 220) and gets 554 (like Postfix's postscreen pregreet
  // test). Zero disables the test.
  std::chrono::milliseconds pregreet_delay{0};
  std::optional<TlsConfig> tls;
  // The operator's HTTP listener (/metrics, /healthz): off unless [metrics] listen is set.
  std::optional<HttpConfig> http;
  // The local submission socket of `taube sendmail` ([queue] submit_socket,
  // net/submit_server.hpp, docs/sendmail.md); empty: none.
  std::string submit_socket = "./var/submit.sock";
};

}  // namespace taube::net
