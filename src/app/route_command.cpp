#include "app/route_command.hpp"

#include <cmath>
#include <iostream>
#include <optional>
#include <random>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "app/config.hpp"
#include "net/resolver.hpp"

namespace taube::app {

void add_route_command(CLI::App& app, RouteCommand& rc) {
  rc.command = app.add_subcommand(
      "route", "Show where mail for a domain goes: MX hosts and addresses in delivery order");
  rc.command->add_option("domain", rc.domain, "Destination domain, or an address literal")
      ->required();
  rc.command->add_option("-c,--config", rc.config, "TOML configuration file ([dns], hostname)")
      ->check(CLI::ExistingFile);
  rc.command->add_option("--dns-server", rc.dns_servers,
                         "DNS server ip or ip:port to forward to (repeatable; over [dns] servers)");
  rc.command->add_option("--family", rc.family,
                         "ipv6-first, ipv4-first, ipv4-only or ipv6-only (over [dns] family)");
  rc.command->add_option("--timeout", rc.timeout, "Seconds per DNS query")
      ->check(CLI::Range(0.1, 300.0))
      ->capture_default_str();
}

int run_route_command(const RouteCommand& rc) {
  auto loaded = rc.config.empty() ? tl::expected<Config, std::string>(default_config())
                                  : load_config(rc.config);
  if (!loaded) {
    std::cerr << "taube: " << loaded.error() << "\n";
    return 2;
  }
  const Config& cfg = *loaded;
  net::ResolverOptions ro;
  ro.servers = rc.dns_servers.empty() ? cfg.dns_servers : rc.dns_servers;
  ro.query_timeout = std::chrono::milliseconds(std::llround(rc.timeout * 1000));
  net::RouteOptions opts;
  opts.family = cfg.dns_family;
  if (!rc.family.empty()) {
    auto f = dns::parse_family(rc.family);
    if (!f) {
      std::cerr << "taube: --family " << rc.family << ": unknown family\n";
      return 2;
    }
    opts.family = *f;
  }
  // Ourselves: the configured host name and the addresses we listen on (RFC 5321 §5.1).
  opts.self_names = {cfg.server.session.hostname};
  for (const auto& l : cfg.server.listeners)
    if (auto a = inet::IpAddress::parse(l.address); a && !a->is_unspecified())
      opts.self_addresses.push_back(*a);

  asio::io_context io(1);
  auto resolver = net::Resolver::create(io, ro);
  if (!resolver) {
    std::cerr << "taube: " << resolver.error() << "\n";
    return 2;
  }
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::function<double()> random01 = [&] { return uniform(rng); };
  std::optional<dns::RoutePlan> plan;
  asio::co_spawn(io, net::resolve_route(**resolver, rc.domain, opts, random01),
                 [&](std::exception_ptr e, dns::RoutePlan p) {
                   if (!e) plan = std::move(p);
                 });
  io.run();
  if (!plan) {
    std::cerr << "taube: route lookup failed\n";
    return 1;
  }
  if (plan->status == dns::PlanStatus::Ok) {
    for (const auto& t : plan->targets)
      std::cout << t.preference << " " << t.host << " " << t.address.to_string() << "\n";
    return 0;
  }
  std::cout << plan->reply_code() << " " << plan->enhanced_status() << " " << plan->reason << "\n";
  return plan->status == dns::PlanStatus::TempFail ? 75 : 1;
}

}  // namespace taube::app
