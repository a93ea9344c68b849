// The [console] section (app/config_console.cpp reads it; docs/console.md).
#pragma once

#include <optional>
#include <string>

#include "console/session_store.hpp"
#include "net/http_config.hpp"
#include "policy/auth_throttle.hpp"

namespace taube::console {

struct ConsoleConfig {
  bool enabled = false;  // [console] users_file is set
  // Its own listener; unset: the [metrics] listener serves the console too.
  std::optional<net::HttpConfig> listen;
  // HTTPS on its own listener with the server's certificate ([tls]); required off loopback.
  bool tls = false;
  std::string users_file;       // the administrators (the AUTH users file's format)
  std::string mail_users_file;  // [auth] users_file: a valid login there is "not an admin" (403)
  SessionLimits sessions;
  // Secure on the cookie over plaintext too: for a console behind a TLS-terminating proxy.
  bool secure_cookie = false;
  // Failed logins per client address before a ban (policy::AuthThrottle).
  policy::ThrottleRules login_throttle{5, std::chrono::minutes(5), std::chrono::minutes(10)};
  // For the overview's disk space.
  std::string mail_root;
};

}  // namespace taube::console
