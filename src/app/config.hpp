// Configuration: built-in defaults, a TOML file (toml++), command-line overrides.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "app/log_output.hpp"
#include "console/console_config.hpp"
#include "dns/route.hpp"
#include "net/server.hpp"
#include "policy/aliases_file.hpp"
#include "policy/directory.hpp"

namespace taube::app {

struct Config {
  net::ServerConfig server;
  policy::DirectoryConfig directory;
  std::string log_level = "info";
  // [log] output and format (app/log_output.hpp, docs/logging.md); [log] level is log_level.
  LogConfig log;
  // Make a self-signed certificate at server.tls's paths when they do not exist (the default;
  // a configured certificate turns it off).
  bool tls_self_signed = false;
  // [delivery] journal: on by default; its file defaults to <mail_root>/.taube-journal (resolved
  // by journal_path_for() once the mail root is final).
  bool journal = true;
  std::string journal_path;
  // [limits] connection_limit_exempt was given (else: loopback and the relay networks).
  bool connection_limit_exempt_set = false;
  // [dns] servers: recursive resolvers to forward to ("ip" or "ip:port"; empty: the name
  // servers of /etc/resolv.conf); family: which address family outbound delivery tries first
  // (default ipv6-first, as Postfix with inet_protocols = all). docs/dns.md.
  std::vector<std::string> dns_servers;
  dns::FamilyPreference dns_family = dns::FamilyPreference::Ipv6First;
  // [srs] (app/config_srs.hpp): the secrets are read from srs_secret_file when it is enabled.
  policy::SrsConfig srs;
  std::string srs_secret_file;
  // [aliases] file: an aliases(5) file, parsed at load and merged over the [aliases] table by
  // validate() (policy/aliases_file.hpp). Read at start and again on SIGHUP.
  std::string aliases_file;
  policy::AliasesFile file_aliases;
  // [console] (app/config_console.hpp, docs/console.md): off unless users_file is set.
  console::ConsoleConfig console;
};

// Defaults that depend on other keys (after the file and before command-line overrides).
void finish(Config& c);

// Where the delivery journal goes ("" when it is off or in discard mode).
std::string journal_path_for(const Config& c);

// The built-in defaults: 127.0.0.1:2525, the system's host name, mail for @localhost, any local
// part, Maildirs under ./var/mail.
Config default_config();

// Reads a TOML file over the defaults. Unknown keys and wrong types are errors; the message names
// the key and its line ("taube.toml:12: limits.max_errors: expected an integer").
tl::expected<Config, std::string> load_config(const std::string& path);

// Parses "ADDR:PORT", "[v6]:PORT" or ":PORT".
tl::expected<net::ListenerConfig, std::string> parse_listen(const std::string& spec);

// Final checks across keys (directory consistency); returns the Directory to serve with.
tl::expected<policy::Directory, std::string> validate(const Config& cfg);

}  // namespace taube::app
