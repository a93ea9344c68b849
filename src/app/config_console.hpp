// The [console] section: the operator's web console (docs/console.md).
//
//   [console]
//   users_file = "/etc/taube/console-users"  # the administrators; turns the console on
//   listen = "127.0.0.1:9155"   # its own listener (loopback unless tls); unset: the [metrics]
//                               # listener if there is one, else 127.0.0.1:9155
//   session_lifetime = 28800    # seconds from login
//   session_idle = 1800         # seconds without a request
//   tls = false                 # HTTPS with the server's [tls] certificate (required when
//                               # listen is not loopback)
//   secure_cookie = false       # Secure on plaintext too (behind a TLS-terminating proxy)
//   max_login_failures = 5      # per client address within 5 minutes, then a 10-minute ban
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "app/config.hpp"
#include "app/table_reader.hpp"

namespace taube::app {

// After [metrics] and [auth] (it may share the metrics listener and names the mail users).
tl::expected<void, std::string> read_console(TableReader& r, Config& c);

// The console's own listener clashes with an SMTP listener or the metrics one: which (as in
// metrics_clash). Checked at load and by validate() after command-line overrides.
std::optional<std::string> console_clash(const Config& c);

}  // namespace taube::app
