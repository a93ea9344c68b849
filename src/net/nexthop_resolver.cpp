#include "net/nexthop_resolver.hpp"

#include <algorithm>

#include "net/resolver.hpp"

namespace taube::net {

namespace {

using Status = ResolvedNexthop::Status;

ResolvedNexthop from_plan(const dns::RoutePlan& plan, std::uint16_t port) {
  ResolvedNexthop out;
  switch (plan.status) {
    case dns::PlanStatus::Ok:
      break;
    case dns::PlanStatus::TempFail:
      out.status = Status::TempFail;
      break;
    default:
      out.status = Status::PermFail;
      break;
  }
  if (out.status != Status::Ok) {
    out.reply =
        std::to_string(plan.reply_code()) + " " + plan.enhanced_status() + " " + plan.reason;
    return out;
  }
  for (const auto& t : plan.targets) {
    asio::error_code ec;
    auto a = asio::ip::make_address(t.address.to_string(), ec);
    if (!ec) out.targets.push_back({t.host, a, port, {}});
  }
  return out;
}

bool is_self(const OutboundTarget& t, const std::vector<asio::ip::tcp::endpoint>& self) {
  return std::any_of(self.begin(), self.end(), [&](const asio::ip::tcp::endpoint& e) {
    if (e.port() != t.port) return false;
    if (e.address() == t.address) return true;
    // A wildcard listener answers on every local address; loopback is the one we can be sure of.
    return e.address().is_unspecified() && t.address.is_loopback();
  });
}

}  // namespace

asio::awaitable<ResolvedNexthop> resolve_nexthop(asio::io_context& io, Resolver* resolver,
                                                 const queue::Nexthop& hop,
                                                 const NexthopOptions& options,
                                                 const std::function<double()>& random01) {
  (void)io;
  ResolvedNexthop out;
  if (!hop.unix_path.empty()) {
    // LMTP to a local socket: nothing to resolve, and no loop to detect (Taube listens on TCP
    // only). Named by our host name in logs, like Postfix.
    OutboundTarget t;
    t.host = options.self_names.empty() ? std::string("localhost") : options.self_names.front();
    t.unix_path = hop.unix_path;
    out.targets.push_back(std::move(t));
    co_return out;
  }
  asio::error_code ec;
  const auto literal = asio::ip::make_address(hop.host, ec);
  if (!ec) {
    out.targets.push_back({hop.host, literal, hop.port, {}});
  } else if (!resolver) {
    out.status = Status::TempFail;
    out.reply = "451 4.4.3 no DNS resolver to look up " + hop.host;
    co_return out;
  } else {
    RouteOptions ro;
    ro.self_names = options.self_names;
    ro.family = options.family;
    ro.max_addresses = options.max_addresses;
    if (hop.mx) {
      const dns::RoutePlan plan = co_await resolve_route(*resolver, hop.host, ro, random01);
      out = from_plan(plan, hop.port);
    } else {
      // A fixed host (smarthost, smtp:[host], lmtp:host): its addresses only, no MX lookup.
      const std::vector<std::string> hosts = {hop.host};
      const auto answers = co_await resolver->host_addresses(hosts, options.family);
      dns::HostOrder order;
      order.status = dns::PlanStatus::Ok;
      order.hosts.push_back({hop.host, 0, false});
      const std::vector<inet::IpAddress> none;
      const auto plan =
          dns::plan_targets(order, answers, options.family, options.max_addresses, none);
      out = from_plan(plan, hop.port);
    }
    if (out.status != Status::Ok) co_return out;
  }
  const std::size_t before = out.targets.size();
  std::erase_if(out.targets,
                [&](const OutboundTarget& t) { return is_self(t, options.self_endpoints); });
  if (before > 0 && out.targets.empty()) {
    out.status = Status::PermFail;
    out.reply = "554 5.4.6 mail for " + hop.host + " loops back to myself";
  }
  co_return out;
}

}  // namespace taube::net
