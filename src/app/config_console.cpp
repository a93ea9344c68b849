#include "app/config_console.hpp"

#include <asio/ip/address.hpp>

#include "app/config_metrics.hpp"

namespace taube::app {

namespace {

constexpr std::uint16_t kDefaultPort = 9155;  // beside the metrics listener's 9154

bool loopback(const std::string& address) {
  asio::error_code ec;
  const auto a = asio::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

}  // namespace

std::optional<std::string> console_clash(const Config& c) {
  if (!c.console.enabled || !c.console.listen) return std::nullopt;
  net::ServerConfig probe;
  probe.listeners = c.server.listeners;
  probe.http = *c.console.listen;
  if (auto clash = metrics_clash(probe)) return "the SMTP listener " + *clash;
  const auto& l = *c.console.listen;
  if (c.server.http && c.server.http->port == l.port && l.port != 0 &&
      c.server.http->address == l.address)
    return std::string("the [metrics] listener (leave console.listen out to share it)");
  return std::nullopt;
}

tl::expected<void, std::string> read_console(TableReader& r, Config& c) {
  auto& k = c.console;
  std::string listen;
  std::int64_t lifetime = k.sessions.lifetime.count();
  std::int64_t idle = k.sessions.idle.count();
  TRY(r.str("users_file", k.users_file));
  TRY(r.str("listen", listen));
  TRY(r.integer("session_lifetime", lifetime, 60, 7 * 86400));
  TRY(r.integer("session_idle", idle, 60, 7 * 86400));
  TRY(r.boolean("secure_cookie", k.secure_cookie));
  TRY(r.integer("max_login_failures", k.login_throttle.max_failures, 1, 1000));
  TRY(r.no_unknown_keys());
  if (k.users_file.empty()) {
    return tl::unexpected(r.where(r.get("users_file"), "users_file") +
                          ": required (the console's administrators, `taube passwd -f FILE "
                          "USER`)");
  }
  if (idle > lifetime) {
    return tl::unexpected(r.where(r.get("session_idle"), "session_idle") +
                          ": longer than session_lifetime");
  }
  k.sessions.lifetime = std::chrono::seconds(lifetime);
  k.sessions.idle = std::chrono::seconds(idle);
  k.enabled = true;
  k.mail_users_file = c.server.auth.users_file;
  // No TLS on the console's listener yet: it may only answer on loopback (reach it through an
  // SSH tunnel or a TLS proxy on the same host), since a password and a session cookie would
  // otherwise cross the network in the clear.
  const char* why_loopback =
      " is not a loopback address; the console has no TLS yet, so it answers on loopback only "
      "(reach it through an SSH tunnel or a TLS proxy on this host)";
  if (listen.empty()) {
    if (c.server.http) {
      if (!loopback(c.server.http->address))
        return tl::unexpected(r.where(nullptr, "listen") + ": the [metrics] listener " +
                              c.server.http->address + why_loopback + "; give console.listen");
      return {};  // shares the metrics listener
    }
    net::HttpConfig h;
    h.name = "console";
    h.address = "127.0.0.1";
    h.port = kDefaultPort;
    k.listen = h;
  } else {
    auto parsed = parse_listen(listen);
    if (!parsed)
      return tl::unexpected(r.where(r.get("listen"), "listen") + ": \"" + listen +
                            "\": expected ADDR:PORT");
    asio::error_code ec;
    asio::ip::make_address(parsed->address, ec);
    if (ec)
      return tl::unexpected(r.where(r.get("listen"), "listen") + ": \"" + parsed->address +
                            "\" is not an IP address");
    if (!loopback(parsed->address))
      return tl::unexpected(r.where(r.get("listen"), "listen") + ": " + parsed->address +
                            why_loopback);
    net::HttpConfig h;
    h.name = "console";
    h.address = parsed->address;
    h.port = parsed->port;
    k.listen = h;
  }
  if (auto clash = console_clash(c)) {
    return tl::unexpected(r.where(r.get("listen"), "listen") + ": " + listen +
                          " is the address of " + *clash);
  }
  return {};
}

}  // namespace taube::app
