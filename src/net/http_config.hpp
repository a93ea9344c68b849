// The operator's HTTP listener ([metrics] in the configuration, docs/metrics.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/ssl/context.hpp>

#include "net/http_request.hpp"

namespace taube::net {

struct HttpConfig {
  // Who configured this listener, for log lines and errors ("metrics", "console").
  std::string name = "metrics";
  std::string address = "127.0.0.1";
  std::uint16_t port = 9154;  // the port Prometheus' exporter list gives Postfix exporters
  // A whole request (line, headers, body) within this of waiting for it; also the keep-alive
  // idle time.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  std::size_t max_connections = 64;
  std::size_t max_requests = 1000;  // per connection
  HttpLimits limits;
  // Set: every connection starts with a TLS handshake (HTTPS) with the context this returns at
  // accept (the server's certificate, reloaded on SIGHUP); null from it refuses the connection.
  std::function<std::shared_ptr<asio::ssl::context>()> tls;
};

}  // namespace taube::net
