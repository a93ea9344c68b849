#include "app/config_outbound.hpp"

#include <algorithm>
#include <fstream>

#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"

namespace taube::app {

tl::expected<void, std::string> read_queue(TableReader& r, Config& c) {
  auto& o = c.server.outbound;
  TRY(r.str("path", o.queue_path));
  if (o.queue_path.empty()) return tl::unexpected(r.where(r.get("path"), "path") + ": empty");
  std::uint64_t journal_mb = o.queue_journal_size >> 20;
  TRY(r.integer("journal_size_mb", journal_mb, 0, 4096));
  o.queue_journal_size = journal_mb << 20;
  std::uint64_t history_mb = o.history_size >> 20;
  TRY(r.integer("history_size_mb", history_mb, 0, 65536));
  o.history_size = history_mb << 20;
  TRY(r.str("control_socket", o.control_socket));
  // sockaddr_un holds 108 octets with the NUL.
  if (o.control_socket.size() > 107)
    return tl::unexpected(r.where(r.get("control_socket"), "control_socket") +
                          ": longer than a unix socket path may be (107 octets)");
  // The sendmail command's local submission socket (docs/sendmail.md); "" turns it off.
  TRY(r.str("submit_socket", c.server.submit_socket));
  if (c.server.submit_socket.size() > 107)
    return tl::unexpected(r.where(r.get("submit_socket"), "submit_socket") +
                          ": longer than a unix socket path may be (107 octets)");
  // Durations in whole seconds. Small values are allowed (tests run with retry_min = 1 and
  // max_lifetime = 20); outbound_warnings() points out those below the RFC's advice.
  std::int64_t retry_min = o.retry.retry_min.count(), retry_max = o.retry.retry_max.count(),
               lifetime = o.retry.max_lifetime.count(), warning = o.retry.delay_warning.count();
  TRY(r.integer("retry_min", retry_min, 1, 86400 * 7));
  TRY(r.integer("retry_max", retry_max, 1, 86400 * 7));
  TRY(r.integer("max_lifetime", lifetime, 1, 86400 * 365));
  TRY(r.integer("delay_warning", warning, 0, 86400 * 365));
  if (retry_max < retry_min)
    return tl::unexpected(r.where(r.get("retry_max"), "retry_max") +
                          ": must not be below retry_min (" + std::to_string(retry_min) + ")");
  o.retry.retry_min = std::chrono::seconds(retry_min);
  o.retry.retry_max = std::chrono::seconds(retry_max);
  o.retry.max_lifetime = std::chrono::seconds(lifetime);
  o.retry.delay_warning = std::chrono::seconds(warning);
  TRY(r.integer("max_connections", o.max_connections, 1, 100000));
  TRY(r.integer("per_destination", o.per_destination, 1, 10000));
  TRY(r.integer("max_recipients", o.max_recipients, 1, 100000));
  TRY(r.integer("max_messages_per_connection", o.max_messages_per_connection, 1, 1000000));
  std::int64_t age = o.max_connection_age.count();
  TRY(r.integer("max_connection_age", age, 1, 86400));
  o.max_connection_age = std::chrono::seconds(age);
  TRY(r.seconds("idle_time", o.idle_time));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_outbound(TableReader& r, Config& c) {
  auto& o = c.server.outbound;
  std::string tls;
  TRY(r.str("tls", tls));
  if (!tls.empty()) {
    auto t = queue::parse_tls_use(tls, false);
    if (!t) return tl::unexpected(r.where(r.get("tls"), "tls") + ": " + t.error());
    o.routing.tls = *t;
  }
  TRY(r.integer("port", o.routing.port, 1, 65535));
  TRY(r.str("helo_name", o.helo_name));
  if (!o.helo_name.empty() && !smtp::is_valid_domain(o.helo_name, false))
    return tl::unexpected(r.where(r.get("helo_name"), "helo_name") + ": not a host name");
  std::int64_t connect = o.connect_timeout.count();
  TRY(r.integer("connect_timeout", connect, 1, 3600));
  o.connect_timeout = std::chrono::seconds(connect);
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_transport(TableReader& r, Config& c) {
  auto& routing = c.server.outbound.routing;
  for (const auto& [k, v] : r.table()) {
    std::string entry;
    TRY(r.str(k.str(), entry));
    if (entry == "local") {
      // Like a domain in Postfix's mydestination: its mail is filed into local Maildirs.
      const std::string d = smtp::ascii_lower(k.str());
      if (std::find(c.directory.domains.begin(), c.directory.domains.end(), d) ==
          c.directory.domains.end())
        c.directory.domains.push_back(d);
      continue;
    }
    auto parsed = queue::parse_transport(entry, routing);
    if (!parsed) return tl::unexpected(r.where(&v, k.str()) + ": " + parsed.error());
    routing.transports[smtp::ascii_lower(k.str())] = entry;
  }
  return {};
}

tl::expected<void, std::string> read_smarthost(TableReader& r, Config& c) {
  auto& o = c.server.outbound;
  std::string host, tls = "starttls", auth_file;
  TRY(r.str("smarthost", host));
  TRY(r.str("smarthost_tls", tls));
  TRY(r.str("smarthost_auth_file", auth_file));
  auto mode = queue::parse_tls_use(tls, true);
  if (!mode)
    return tl::unexpected(r.where(r.get("smarthost_tls"), "smarthost_tls") + ": " + mode.error());
  if (host.empty()) {
    o.routing.smarthost.reset();
    return {};
  }
  auto hop = queue::parse_smarthost(host, *mode);
  if (!hop) return tl::unexpected(r.where(r.get("smarthost"), "smarthost") + ": " + hop.error());
  o.routing.smarthost = *hop;
  if (!auth_file.empty()) {
    std::ifstream in(auth_file);
    std::string line;
    if (!in || !std::getline(in, line))
      return tl::unexpected(r.where(r.get("smarthost_auth_file"), "smarthost_auth_file") +
                            ": cannot read " + auth_file);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      return tl::unexpected(r.where(r.get("smarthost_auth_file"), "smarthost_auth_file") + ": " +
                            auth_file + ": expected one \"user:password\" line");
    sasl::ClientCredentials cred;
    cred.username = line.substr(0, colon);
    cred.password = line.substr(colon + 1);
    o.smarthost_credentials = cred;
  }
  return {};
}

std::vector<std::string> outbound_warnings(const Config& c) {
  std::vector<std::string> w;
  const auto& o = c.server.outbound;
  // RFC 5321 §4.5.4.1: retry interval at least 30 minutes, give-up time at least 4-5 days.
  if (o.retry.max_lifetime < std::chrono::hours(96))
    w.push_back("queue.max_lifetime is " + std::to_string(o.retry.max_lifetime.count()) +
                " s: RFC 5321 §4.5.4.1 advises at least 4-5 days");
  if (o.retry.retry_min < std::chrono::minutes(1))
    w.push_back("queue.retry_min is " + std::to_string(o.retry.retry_min.count()) +
                " s: retrying this often burdens the destinations (RFC 5321 §4.5.4.1)");
  // Only lmtp: entries take a local domain's mail elsewhere (app::validate): any other entry for
  // a local domain is not used, its mail goes into Maildirs.
  for (const auto& [domain, entry] : o.routing.transports) {
    if (std::find(c.directory.domains.begin(), c.directory.domains.end(), domain) ==
        c.directory.domains.end())
      continue;
    auto hop = queue::parse_transport(entry, o.routing);
    if (!hop || !*hop || (*hop)->dialect != smtp::Dialect::Lmtp)
      w.push_back("transport.\"" + domain + "\" = \"" + entry +
                  "\" is not used: the domain is local (delivery.domains), its mail goes into "
                  "Maildirs; only an lmtp: entry delivers a local domain to another store");
  }
  if (o.routing.smarthost && o.smarthost_credentials &&
      o.routing.smarthost->tls == queue::TlsUse::None)
    w.push_back(
        "relay.smarthost_tls = \"none\" with credentials: the password would go in plaintext; it "
        "is sent only over TLS");
  return w;
}

}  // namespace taube::app
