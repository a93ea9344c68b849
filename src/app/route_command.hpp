// `taube route <domain>`: where outbound mail for a domain would go (docs/dns.md).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace taube::app {

struct RouteCommand {
  CLI::App* command = nullptr;  // parsed when *command is true
  std::string domain;
  std::string config;
  std::vector<std::string> dns_servers;  // --dns-server, over [dns] servers
  std::string family;                    // --family, over [dns] family
  double timeout = 10;                   // seconds per DNS query
};

// Declares the subcommand on `app`; the returned object is filled in by CLI11's parse.
void add_route_command(CLI::App& app, RouteCommand& rc);

// Prints the plan: one "preference host address" line per target (exit 0), or
// "code status reason" (exit 75 for a temporary failure, 1 for a permanent one, 2 for a bad
// configuration or option).
int run_route_command(const RouteCommand& rc);

}  // namespace taube::app
