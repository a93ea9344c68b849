#include "net/nexthop_resolver.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

asio::awaitable<ResolvedNexthop> resolve_nexthop(asio::io_context& io, Resolver* resolver,
                                                 const queue::Nexthop& hop,
                                                 const NexthopOptions& options) {
  ResolvedNexthop out;
  asio::error_code ec;
  const auto literal = asio::ip::make_address(hop.host, ec);
  if (!ec) {
    out.targets.push_back({hop.host, literal, hop.port});
    co_return out;
  }
  if (hop.mx) {
    (void)resolver;
    out.status = ResolvedNexthop::Status::TempFail;
    out.reply = "451 4.4.3 no DNS resolver for MX lookup of " + hop.host;
    co_return out;
  }
  // A fixed host by name (smarthost, smtp:[host]): its addresses from the system resolver.
  asio::ip::tcp::resolver r(io);
  const std::string port = std::to_string(hop.port);
  auto [rec, results] = co_await r.async_resolve(hop.host, port, as_tuple(use_awaitable));
  if (rec) {
    const bool permanent = rec == asio::error::host_not_found;
    out.status = permanent ? ResolvedNexthop::Status::PermFail : ResolvedNexthop::Status::TempFail;
    out.reply = permanent ? "550 5.1.2 Host or domain name not found: " + hop.host
                          : "451 4.4.3 Host or domain name lookup failed for " + hop.host + ": " +
                                rec.message();
    co_return out;
  }
  for (const auto& e : results) {
    if (out.targets.size() >= options.max_addresses) break;
    out.targets.push_back({hop.host, e.endpoint().address(), hop.port});
  }
  if (out.targets.empty()) {
    out.status = ResolvedNexthop::Status::PermFail;
    out.reply = "550 5.1.2 Host or domain name not found: " + hop.host;
  }
  co_return out;
}

}  // namespace taube::net
