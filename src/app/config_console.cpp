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
  TRY(r.boolean("tls", k.tls));
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
  // Off loopback only with HTTPS: a password and a session cookie must not cross the network in
  // the clear. The metrics listener has no TLS, so the console shares it on loopback only.
  const char* why_loopback =
      " is not a loopback address: the console answers elsewhere only with tls = true (HTTPS "
      "with the server's certificate), or reach it through an SSH tunnel";
  if (k.tls && !c.server.tls)
    return tl::unexpected(r.where(r.get("tls"), "tls") +
                          ": needs the server's certificate ([tls] certificate and key)");
  if (listen.empty()) {
    if (c.server.http && !k.tls) {
      if (!loopback(c.server.http->address))
        return tl::unexpected(r.where(nullptr, "listen") + ": the [metrics] listener " +
                              c.server.http->address + why_loopback + " and its own listen");
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
    if (!loopback(parsed->address) && !k.tls)
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
