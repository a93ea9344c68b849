// The outbound queue's configuration ([queue], [outbound], [relay] smarthost, [transport], [dns]):
// src/app builds it from the TOML file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/route.hpp"
#include "queue/route.hpp"
#include "queue/schedule.hpp"
#include "sasl/client_mechanism.hpp"

namespace taube::net {

struct OutboundConfig {
  std::string queue_path = "./var/queue";
  // The queue's journal (store/queue_store.hpp, the fast path); 0: none, every item is filed
  // as files before its 250.
  std::uint64_t queue_journal_size = std::uint64_t{64} << 20;
  // The history of finished deliveries (store/delivery_history.hpp, the console's Deliveries
  // view), at most this many bytes in <queue_path>/history; 0: none.
  std::uint64_t history_size = std::uint64_t{64} << 20;
  // The control socket of `taube queue` (net/control_server.hpp); empty: none.
  std::string control_socket = "./var/control.sock";
  queue::RetryPolicy retry;
  // At most this many outbound connections in all, and per destination (which starts at
  // initial_concurrency and grows with successes: queue::DestinationState).
  std::uint32_t max_connections = 100;
  std::uint32_t per_destination = 20;
  std::uint32_t initial_concurrency = 5;
  // RFC 5321 §4.5.3.1.8 requires servers to take at least 100 recipients per transaction; 50
  // is Postfix's default for its smtp client.
  std::size_t max_recipients = 50;
  // Connection reuse: at most this many messages or this long per connection, and an idle
  // connection waits this long for more mail to its destination before QUIT.
  std::uint32_t max_messages_per_connection = 100;
  std::chrono::seconds max_connection_age{300};
  std::chrono::milliseconds idle_time{2000};
  std::chrono::seconds connect_timeout{30};
  // A destination whose TLS handshake failed is tried in plaintext for this long (opportunistic
  // TLS only), so a broken TLS stack does not hold its mail.
  std::chrono::seconds tls_fallback_memory{3600};
  queue::RoutingTable routing;
  std::optional<sasl::ClientCredentials> smarthost_credentials;
  std::string helo_name;                 // empty: the server's host name
  std::vector<std::string> dns_servers;  // empty: /etc/resolv.conf
  dns::FamilyPreference dns_family = dns::FamilyPreference::Ipv6First;
  std::size_t max_addresses = 5;
};

}  // namespace taube::net
