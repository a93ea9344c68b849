// From a next hop (queue/route.hpp) to the addresses to try, in order: an IP address as is; a
// host name by its A/AAAA records; a domain by its MX records (RFC 5321 §5.1, through the
// resolver: src/net/resolver, src/dns).
#pragma once

#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

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
};

// `resolver` may be null: then MX delivery fails temporarily ("no DNS resolver").
asio::awaitable<ResolvedNexthop> resolve_nexthop(asio::io_context& io, Resolver* resolver,
                                                 const queue::Nexthop& hop,
                                                 const NexthopOptions& options);

}  // namespace taube::net
