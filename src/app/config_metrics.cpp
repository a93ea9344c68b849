#include "app/config_metrics.hpp"

#include <asio/ip/address.hpp>

namespace taube::app {

namespace {

bool same_socket(const std::string& a, std::uint16_t pa, const std::string& b, std::uint16_t pb) {
  if (pa != pb || pa == 0) return false;
  asio::error_code ea, eb;
  const auto x = asio::ip::make_address(a, ea);
  const auto y = asio::ip::make_address(b, eb);
  if (ea || eb) return a == b;
  if (x == y) return true;
  // A wildcard takes the port on every address of its family (and "::" on a dual-stack host
  // on IPv4 too; Taube binds v6_only, but another program may not, so refuse that as well).
  auto wild = [](const asio::ip::address& w, const asio::ip::address& o) {
    if (!w.is_unspecified()) return false;
    return w.is_v6() || w.is_v4() == o.is_v4();
  };
  return wild(x, y) || wild(y, x);
}

}  // namespace

std::optional<std::string> metrics_clash(const net::ServerConfig& s) {
  if (!s.http) return std::nullopt;
  for (const auto& l : s.listeners)
    if (same_socket(s.http->address, s.http->port, l.address, l.port))
      return (l.address.find(':') != std::string::npos ? "[" + l.address + "]" : l.address) + ":" +
             std::to_string(l.port);
  return std::nullopt;
}

tl::expected<void, std::string> read_metrics(TableReader& r, Config& c) {
  net::HttpConfig h;
  std::string listen;
  TRY(r.str("listen", listen));
  TRY(r.seconds("request_timeout", h.request_timeout));
  TRY(r.integer("max_connections", h.max_connections, 1, 10000));
  TRY(r.no_unknown_keys());
  if (listen.empty()) return {};  // off (the default)
  auto parsed = parse_listen(listen);
  if (!parsed) {
    return tl::unexpected(r.where(r.get("listen"), "listen") + ": \"" + listen +
                          "\": expected ADDR:PORT");
  }
  asio::error_code ec;
  asio::ip::make_address(parsed->address, ec);
  if (ec) {
    return tl::unexpected(r.where(r.get("listen"), "listen") + ": \"" + parsed->address +
                          "\" is not an IP address");
  }
  h.address = parsed->address;
  h.port = parsed->port;
  c.server.http = h;
  // Never on an SMTP port (issue 12): a scraper must not speak HTTP to an MTA, nor an MTA SMTP
  // to the metrics.
  if (auto clash = metrics_clash(c.server)) {
    c.server.http.reset();
    return tl::unexpected(r.where(r.get("listen"), "listen") + ": " + listen +
                          " is the address of the SMTP listener " + *clash);
  }
  return {};
}

}  // namespace taube::app
