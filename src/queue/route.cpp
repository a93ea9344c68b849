#include "queue/route.hpp"

#include <algorithm>
#include <charconv>

#include "smtp/wire/ascii.hpp"

namespace taube::queue {
namespace {

// "host:port" / "[host]:port" / "host" -> host, port, bracketed.
struct HostPort {
  std::string host;
  std::optional<std::uint16_t> port;
  bool bracketed = false;
};

tl::expected<HostPort, std::string> split_host_port(std::string_view s) {
  HostPort hp;
  std::string_view rest;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos)
      return tl::unexpected("missing ']' in \"" + std::string(s) + "\"");
    hp.host = std::string(s.substr(1, close - 1));
    hp.bracketed = true;
    rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return tl::unexpected("junk after ']' in \"" + std::string(s) + "\"");
      rest.remove_prefix(1);
    } else {
      rest = {};
    }
    if (hp.host.rfind("IPv6:", 0) == 0 || hp.host.rfind("ipv6:", 0) == 0)
      hp.host = hp.host.substr(5);
  } else {
    auto colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') == colon) {
      hp.host = std::string(s.substr(0, colon));
      rest = s.substr(colon + 1);
      if (rest.empty()) return tl::unexpected("empty port in \"" + std::string(s) + "\"");
    } else {
      hp.host = std::string(s);
    }
  }
  if (hp.host.empty()) return tl::unexpected("no host in \"" + std::string(s) + "\"");
  if (!rest.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (ec != std::errc() || p != rest.data() + rest.size() || v == 0 || v > 65535)
      return tl::unexpected("bad port \"" + std::string(rest) + "\"");
    hp.port = static_cast<std::uint16_t>(v);
  }
  hp.host = smtp::ascii_lower(hp.host);
  return hp;
}

// "unix:/path", "inet:host:port", "[host]:port", "host:port" (after "lmtp:").
tl::expected<Nexthop, std::string> parse_lmtp(std::string_view spec) {
  Nexthop n;
  n.dialect = smtp::Dialect::Lmtp;
  n.mx = false;  // LMTP never uses MX records
  n.tls = TlsUse::None;
  if (spec.rfind("unix:", 0) == 0) {
    const std::string_view path = spec.substr(5);
    if (path.empty()) return tl::unexpected(std::string("no socket path after \"unix:\""));
    // Relative to what? Postfix resolves against its queue directory; Taube has no such anchor,
    // and a path that depends on the working directory breaks on the first restart elsewhere.
    if (path.front() != '/')
      return tl::unexpected("socket path \"" + std::string(path) + "\" must be absolute");
    // sockaddr_un.sun_path is 108 octets on Linux, with the terminating NUL.
    if (path.size() > 107)
      return tl::unexpected(std::string("socket path longer than 107 octets (sun_path)"));
    if (std::any_of(path.begin(), path.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      return tl::unexpected(std::string("control character in the socket path"));
    n.unix_path = std::string(path);
    n.host = "localhost";
    n.port = 0;
    return n;
  }
  if (spec.rfind("inet:", 0) == 0) spec.remove_prefix(5);  // Postfix's explicit spelling
  auto hp = split_host_port(spec);
  if (!hp) return tl::unexpected(hp.error());
  // No default port: 24 is only the registered one (RFC 2033 §6), Dovecot and Cyrus listen
  // where they are told; a missing port is more likely an error than a wish for 24.
  if (!hp->port) return tl::unexpected("no port in \"" + std::string(spec) + "\" (host:port)");
  if (*hp->port == 25)
    return tl::unexpected(std::string("LMTP must not be used on TCP port 25 (RFC 2033 §1)"));
  n.host = hp->host;
  n.port = *hp->port;
  return n;
}

}  // namespace

std::string Nexthop::key() const {
  if (dialect == smtp::Dialect::Lmtp) {
    if (!unix_path.empty()) return "lmtp:unix:" + unix_path;
    return "lmtp:[" + host + "]:" + std::to_string(port);
  }
  if (mx) return host + ":" + std::to_string(port);
  return "[" + host + "]:" + std::to_string(port);
}

tl::expected<TlsUse, std::string> parse_tls_use(std::string_view s, bool allow_implicit) {
  if (s == "none") return TlsUse::None;
  if (s == "opportunistic" || s == "starttls" || s == "may") return TlsUse::Opportunistic;
  if (s == "required" || s == "encrypt") return TlsUse::Required;
  if (s == "implicit" && allow_implicit) return TlsUse::Implicit;
  return tl::unexpected(std::string(allow_implicit ? "must be none, starttls, required or implicit"
                                                   : "must be none, opportunistic or required"));
}

tl::expected<Nexthop, std::string> parse_smarthost(std::string_view spec, TlsUse tls) {
  auto hp = split_host_port(spec);
  if (!hp) return tl::unexpected(hp.error());
  Nexthop n;
  n.mx = false;
  n.host = hp->host;
  n.port = hp->port.value_or(tls == TlsUse::Implicit ? 465 : 25);
  n.tls = tls;
  n.smarthost = true;
  return n;
}

tl::expected<std::optional<Nexthop>, std::string> parse_transport(std::string_view entry,
                                                                  const RoutingTable& table) {
  if (entry == "mx") {
    return std::optional<Nexthop>();  // resolved per domain by route_for
  }
  if (entry == "smarthost") {
    if (!table.smarthost)
      return tl::unexpected(std::string("\"smarthost\" but [relay] smarthost is not set"));
    return std::optional<Nexthop>(*table.smarthost);
  }
  if (entry.rfind("smtp:", 0) == 0) {
    auto hp = split_host_port(entry.substr(5));
    if (!hp) return tl::unexpected(hp.error());
    Nexthop n;
    n.mx = !hp->bracketed;
    n.host = hp->host;
    n.port = hp->port.value_or(table.port);
    n.tls = table.tls;
    return std::optional<Nexthop>(n);
  }
  if (entry.rfind("lmtp:", 0) == 0) {
    auto n = parse_lmtp(entry.substr(5));
    if (!n) return tl::unexpected("\"" + std::string(entry) + "\": " + n.error());
    return std::optional<Nexthop>(*n);
  }
  return tl::unexpected("\"" + std::string(entry) +
                        "\": must be mx, smarthost, smtp:[host]:port, smtp:host:port, "
                        "lmtp:host:port or lmtp:unix:/path");
}

Nexthop route_for(std::string_view domain_in, const RoutingTable& table) {
  const std::string domain = smtp::ascii_lower(domain_in);
  if (auto it = table.transports.find(domain); it != table.transports.end()) {
    auto n = parse_transport(it->second, table);
    if (n && *n) return **n;
  } else if (table.smarthost) {
    return *table.smarthost;
  }
  Nexthop n;
  n.port = table.port;
  n.tls = table.tls;
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    n.mx = false;  // RFC 5321 §4.1.3: an address literal is the host itself
    n.host = domain.substr(1, domain.size() - 2);
    if (n.host.rfind("ipv6:", 0) == 0) n.host = n.host.substr(5);
  } else {
    n.host = domain;
  }
  return n;
}

}  // namespace taube::queue
