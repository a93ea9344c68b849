// Connect policy: whether a new connection may start a session. Admission limits in total and per
// client address, with exemptions (Postfix exempts $mynetworks by default:
// smtpd_client_connection_limit_exceptions), and the ban of clients that failed AUTH too often.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "inet/cidr.hpp"
#include "inet/ip_address.hpp"

namespace taube::policy {

struct ConnectRules {
  std::size_t max_connections = 1000;
  std::size_t max_per_client = 50;
  // Clients without a per-address limit (the total limit still applies). The configuration
  // defaults this to loopback plus the relay networks: a local web application with many
  // workers submitting through 127.0.0.1 must not be refused.
  std::vector<inet::Cidr> per_client_exempt;
};

enum class Admission {
  Admitted,
  TooManyConnections,  // 421 4.7.0: the server is full
  TooManyFromClient,   // 421 4.7.0: this address has max_per_client sessions already
};

class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(ConnectRules rules) : rules_(std::move(rules)) {}

  // Counts the connection when it is admitted; every Admitted needs one release().
  Admission admit(const inet::IpAddress& client);
  void release(const inet::IpAddress& client);

  bool exempt(const inet::IpAddress& client) const;
  std::size_t total() const { return total_; }
  std::size_t from(const inet::IpAddress& client) const;
  // SIGHUP: new limits apply to new connections; the counts stay.
  void set_rules(ConnectRules rules) { rules_ = std::move(rules); }

 private:
  ConnectRules rules_;
  std::map<inet::IpAddress, std::size_t> per_client_;
  std::size_t total_ = 0;
};

}  // namespace taube::policy
