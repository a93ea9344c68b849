// From a next hop (queue/route.hpp) to the addresses to try, in order: an IP address as is; a
// host name by its A/AAAA records; a unix socket path (LMTP) as is; a domain by its MX records (RFC
// 5321 §5.1: dns::order_mx and dns::plan_targets through the libunbound resolver,
// src/net/resolver). Targets that are one of our own listeners are dropped: mail for a destination
// that leads back here fails with 5.4.6 instead of looping (RFC 5321 §5.1, "never deliver to
// itself").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "dns/route.hpp"
#include "net/outbound_connection.hpp"
#include "queue/route.hpp"

namespace taube::net {

class Resolver;

struct ResolvedNexthop {
  enum class Status { Ok, TempFail, PermFail };
  Status status = Status::Ok;
  std::vector<OutboundTarget> targets;  // Ok: at most max_addresses, in order
  std::string reply;                    // failures: "550 5.1.2 Host or domain name not found ..."
};

struct NexthopOptions {
  std::size_t max_addresses = 5;  // RFC 5321 §5.1 advises trying several, not all
  std::vector<std::string> self_names;
  std::vector<asio::ip::tcp::endpoint> self_endpoints;  // our listeners
  dns::FamilyPreference family = dns::FamilyPreference::Ipv6First;
};

// `resolver` may be null: then MX delivery fails temporarily ("no DNS resolver"). `options` and
// `random01` must outlive the call.
asio::awaitable<ResolvedNexthop> resolve_nexthop(asio::io_context& io, Resolver* resolver,
                                                 const queue::Nexthop& hop,
                                                 const NexthopOptions& options,
                                                 const std::function<double()>& random01);

}  // namespace taube::net
