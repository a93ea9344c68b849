// Where the queue sends a recipient: the next hop of its domain, from the transport table, the
// smarthost, or the domain's MX records (RFC 5321 §5.1). Pure: parsing and lookup of the routing
// configuration; the DNS lookups themselves are the resolver's (src/net/resolver).
//
// Transport table entries (Postfix transport(5) in spirit, the same bracket rule):
//   "mx"              MX lookup of the recipient's domain (the default)
//   "smarthost"       the configured smarthost ([relay] smarthost)
//   "smtp:[host]:port", "smtp:[host]"   that host, no MX lookup (brackets suppress it, as in
//                     Postfix); host may be an IP address
//   "smtp:host:port", "smtp:host"       MX lookup of `host`, then its A/AAAA
//   "lmtp:[host]:port", "lmtp:host:port", "lmtp:inet:host:port"
//                     LMTP (RFC 2033) to that host; never an MX lookup (LMTP talks to a mail
//                     store, not to a domain's exchangers: Postfix's lmtp(8) does the same), a
//                     host name is looked up by A/AAAA. The port is required and must not be 25
//                     (RFC 2033 §1).
//   "lmtp:unix:/path" LMTP over the unix stream socket at that absolute path (Dovecot's
//                     lmtp listener, Postfix's lmtp:unix:private/dovecot-lmtp)
//   "local"           (read by the configuration: the domain becomes a local domain)
// The port of smtp: entries defaults to [outbound] port. LMTP next hops use no TLS: the store
// is local (a unix socket) or on a trusted network, as with Postfix's lmtp client whose
// lmtp_tls_security_level is empty by default. A next hop is also the unit of scheduling:
// recipients with the same key share connections, concurrency limits and the hold-back of a failing
// destination (RFC 5321 §4.5.4.1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "smtp/wire/dialect.hpp"

namespace taube::queue {

// How TLS is used towards a next hop. Opportunistic: STARTTLS when offered, without verifying the
// certificate, plaintext when the handshake fails (RFC 7435); Required: STARTTLS or no delivery;
// Implicit: TLS from the first octet (RFC 8314, a smarthost on port 465).
enum class TlsUse { None, Opportunistic, Required, Implicit };

struct Nexthop {
  bool mx = true;    // look up MX records of `host` (else only its addresses)
  std::string host;  // a domain (mx), a host name, or an IP address (no DNS at all)
  std::uint16_t port = 25;
  TlsUse tls = TlsUse::Opportunistic;
  bool smarthost = false;  // the smarthost: AUTH with the configured credentials
  smtp::Dialect dialect = smtp::Dialect::Smtp;
  std::string unix_path;  // LMTP over a unix stream socket (then host and port are unused)
  // The scheduling key: "remote.test:25" for MX delivery, "[host]:port" for a fixed host,
  // "lmtp:[host]:port" and "lmtp:unix:/path" for LMTP (the same host may speak both protocols
  // on different ports; the keys must not meet).
  std::string key() const;
  friend bool operator==(const Nexthop&, const Nexthop&) = default;
};

struct RoutingTable {
  std::map<std::string, std::string> transports;  // lower-case domain -> entry (above)
  std::optional<Nexthop> smarthost;               // set: the default for every domain
  std::uint16_t port = 25;                        // [outbound] port
  TlsUse tls = TlsUse::Opportunistic;             // [outbound] tls
};

// Parses one transport table entry; errors say what is wrong with it.
tl::expected<std::optional<Nexthop>, std::string> parse_transport(std::string_view entry,
                                                                  const RoutingTable& table);
// Parses "[relay] smarthost": "host:port", "[host]:port", "host" (port 25), "[::1]:2525"; a
// smarthost is never looked up by MX.
tl::expected<Nexthop, std::string> parse_smarthost(std::string_view spec, TlsUse tls);
// TLS modes as configured: "none", "opportunistic" (also "starttls", the smarthost's spelling),
// "required", "implicit" (smarthost only).
tl::expected<TlsUse, std::string> parse_tls_use(std::string_view s, bool allow_implicit);

// The next hop for a recipient domain: its transport entry (validated beforehand with
// parse_transport), else the smarthost, else MX delivery. A domain literal "[192.0.2.1]" goes to
// that address.
Nexthop route_for(std::string_view domain, const RoutingTable& table);

}  // namespace taube::queue
