// Resolver: DNS lookups for outbound delivery with libunbound, inside the Asio event loop
// (docs/dns.md). libunbound runs each query on its own worker thread (ub_ctx_async(ctx, 1))
// and reports answers through a pipe (ub_fd); an asio::posix::stream_descriptor waits on it
// and ub_process() runs the callbacks on the io_context thread, so everything Taube sees
// happens on that one thread. Each query is bounded by its own deadline (default 10 s): a dead
// server gives ServFail "timeout", never a hang.
//
// Lifetime: the Resolver may be destroyed, or cancel_all() called, with lookups in flight; they
// end with ServFail "cancelled" and touch nothing of the destroyed resolver. The state the
// coroutines need is shared (Impl) and kept by each lookup while it runs.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <tl/expected.hpp>

#include "dns/answers.hpp"
#include "dns/route.hpp"
#include "inet/ip_address.hpp"

namespace taube::net {

struct RouteOptions;

struct ResolverOptions {
  // [dns] servers: "ip" or "ip:port" ("[v6]:port"); forwarded to as recursive resolvers.
  // Empty: the name servers of /etc/resolv.conf (ub_ctx_resolvconf).
  std::vector<std::string> servers;
  // Upper bound of one query, whatever unbound's own retries do.
  std::chrono::milliseconds query_timeout = std::chrono::seconds(10);
};

class Resolver {
 public:
  static tl::expected<std::unique_ptr<Resolver>, std::string> create(
      asio::io_context& io, const std::vector<std::string>& servers);
  static tl::expected<std::unique_ptr<Resolver>, std::string> create(
      asio::io_context& io, const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // MX records of `domain` (rcode Ok with no records: NoData, the implicit MX applies).
  asio::awaitable<dns::MxAnswer> mx(const std::string& domain);
  // AAAA (ipv6) or A records of `host`; CNAMEs are followed by unbound.
  asio::awaitable<dns::AddressAnswer> addresses(const std::string& host, bool ipv6);
  // AAAA and A of every host, all queries in flight at once; one entry per host, in order
  // (first AAAA, second A; a family `family` does not want is not asked and stays Ok/empty).
  asio::awaitable<std::vector<dns::HostAddresses>> host_addresses(
      const std::vector<std::string>& hosts, dns::FamilyPreference family);

  // Ends every lookup in flight with ServFail "cancelled" (shutdown). Later lookups still work.
  void cancel_all();
  // Lookups in flight (tests).
  std::size_t pending() const;

  struct Impl;

 private:
  explicit Resolver(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  friend asio::awaitable<dns::RoutePlan> resolve_route(Resolver&, const std::string&,
                                                       const RouteOptions&,
                                                       const std::function<double()>&);
};

struct RouteOptions {
  std::vector<std::string> self_names;          // our host names (the MX self test)
  std::vector<inet::IpAddress> self_addresses;  // our addresses (never deliver to them)
  dns::FamilyPreference family = dns::FamilyPreference::Ipv6First;
  std::size_t max_addresses = 5;  // Postfix's smtp_mx_address_limit
  std::size_t max_hosts = 10;     // MX hosts whose addresses are looked up
};

// The whole lookup for one destination domain: an address literal directly (plan_literal);
// otherwise MX, then A/AAAA of the hosts in order (in parallel), then dns::plan_targets.
// random01 breaks MX preference ties (RFC 5321 §5.1); it, `domain` and `options` must stay
// valid until the coroutine completes. The resolver may be destroyed meanwhile: the plan is
// then TempFail "cancelled".
asio::awaitable<dns::RoutePlan> resolve_route(Resolver& resolver, const std::string& domain,
                                              const RouteOptions& options,
                                              const std::function<double()>& random01);

}  // namespace taube::net
