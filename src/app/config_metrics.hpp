// The [metrics] section of the configuration file: the operator's HTTP listener with /metrics
// (Prometheus text format) and /healthz (docs/metrics.md; etc/taube.toml.example).
//
//   [metrics]
//   listen = "127.0.0.1:9154"   # off unless set; never an SMTP listener's address and port
//   request_timeout = 10        # seconds for a whole request (and the keep-alive idle time)
//   max_connections = 64
#pragma once

#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "app/config.hpp"
#include "app/table_reader.hpp"

namespace taube::app {

tl::expected<void, std::string> read_metrics(TableReader& r, Config& c);

// The SMTP listener the HTTP listener would share its address and port with, if any ("0.0.0.0"
// and "::" share with every address of their family; port 0 is chosen by the kernel, never
// shared). Checked at load (naming the key and line) and again by validate() after
// command-line --listen overrides.
std::optional<std::string> metrics_clash(const net::ServerConfig& s);

}  // namespace taube::app
