#include "app/config.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include <toml++/toml.h>

#include "app/config_console.hpp"
#include "app/config_metrics.hpp"
#include "app/config_outbound.hpp"
#include "app/config_srs.hpp"
#include "app/table_reader.hpp"

#include "policy/aliases_file.hpp"
#include "queue/route.hpp"
#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"

namespace taube::app {

namespace {

std::string system_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

tl::expected<void, std::string> read_limits(TableReader& r, Config& c) {
  auto& l = c.server.session.limits;
  TRY(r.integer("max_message_size", l.max_message_size, 0, std::int64_t{1} << 40));
  TRY(r.integer("max_recipients", l.max_recipients, 1, 100000));
  TRY(r.integer("max_errors", l.max_errors, 1, 100000));
  TRY(r.integer("max_line_length", l.max_text_line, 80, 1 << 20));
  TRY(r.integer("max_received_headers", l.max_received_headers, 0, 10000));
  TRY(r.integer("max_connections", c.server.connect.max_connections, 1, 1000000));
  TRY(r.integer("max_connections_per_ip", c.server.connect.max_per_client, 1, 1000000));
  if (r.table().contains("connection_limit_exempt")) {
    TRY(networks(r, "connection_limit_exempt", c.server.connect.per_client_exempt));
    c.connection_limit_exempt_set = true;
  }
  TRY(r.boolean("reject_long_lines", c.server.session.reject_long_lines));
  TRY(r.seconds("command_timeout", c.server.command_timeout));
  TRY(r.seconds("data_timeout", c.server.data_timeout));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_smtp(TableReader& r, Config& c) {
  auto& s = c.server.session;
  std::string bare;
  TRY(r.str("bare_newline", bare));
  if (bare == "reject")
    s.bare_newline = smtp::BareNewlinePolicy::Reject;
  else if (bare == "normalize")
    s.bare_newline = smtp::BareNewlinePolicy::Normalize;
  else if (bare == "note")
    s.bare_newline = smtp::BareNewlinePolicy::Note;
  else if (!bare.empty())
    return tl::unexpected(r.where(r.get("bare_newline"), "bare_newline") +
                          ": must be \"reject\", \"normalize\" or \"note\"");
  TRY(networks(r, "bare_newline_exempt", c.server.bare_newline_exempt));
  std::string vrfy;
  TRY(r.str("vrfy", vrfy));
  if (vrfy == "disabled")
    s.vrfy = smtp::VrfyMode::Disabled;
  else if (vrfy == "cannot-verify")
    s.vrfy = smtp::VrfyMode::CannotVerify;
  else if (vrfy == "verify")
    s.vrfy = smtp::VrfyMode::Verify;
  else if (!vrfy.empty())
    return tl::unexpected(r.where(r.get("vrfy"), "vrfy") +
                          ": must be \"disabled\", \"cannot-verify\" or \"verify\"");
  TRY(r.boolean("expn", s.expn));
  TRY(r.boolean("etrn", s.etrn));
  TRY(r.boolean("require_helo", s.require_helo));
  TRY(r.seconds_or_zero("pregreet_delay", c.server.pregreet_delay));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_delivery(TableReader& r, Config& c) {
  TRY(r.str("mail_root", c.directory.mail_root));
  TRY(r.strings("domains", c.directory.domains));
  std::string catch_all;
  TRY(r.str("catch_all", catch_all));
  if (!catch_all.empty()) c.directory.catch_all = catch_all;
  TRY(r.boolean("journal", c.journal));
  TRY(r.str("journal_path", c.journal_path));
  std::uint64_t journal_mb = c.server.journal_size >> 20;
  TRY(r.integer("journal_size_mb", journal_mb, 1, 4096));
  c.server.journal_size = journal_mb << 20;
  std::string mode;
  TRY(r.str("mode", mode));
  if (mode == "discard")
    c.server.discard = true;
  else if (!mode.empty() && mode != "maildir")
    return tl::unexpected(r.where(r.get("mode"), "mode") + ": must be \"maildir\" or \"discard\"");
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_tls(TableReader& r, Config& c) {
  bool enabled = true;
  TRY(r.boolean("enabled", enabled));
  std::string cert, key;
  TRY(r.str("certificate", cert));
  TRY(r.str("key", key));
  bool self_signed = cert.empty() && key.empty();
  TRY(r.boolean("self_signed", self_signed));
  TRY(r.no_unknown_keys());
  if (!enabled) {
    c.server.tls.reset();
    c.tls_self_signed = false;
    return {};
  }
  if (cert.empty() != key.empty())
    return tl::unexpected(r.where(nullptr, cert.empty() ? "certificate" : "key") +
                          ": certificate and key go together");
  if (!cert.empty()) c.server.tls = net::TlsConfig{cert, key};
  c.tls_self_signed = self_signed;
  return {};
}

tl::expected<void, std::string> read_auth(TableReader& r, Config& c) {
  auto& a = c.server.auth;
  TRY(r.str("users_file", a.users_file));
  // 0 is allowed: no delay (tests, or a site that relies on the ban alone).
  TRY(r.seconds_or_zero("failure_delay", a.failure_delay));
  TRY(r.integer("max_failures", a.throttle.max_failures, 1, 1000));
  TRY(r.seconds("failure_window", a.throttle.window));
  TRY(r.seconds("ban_time", a.throttle.ban));
  TRY(r.boolean("restrict_sender", c.server.senders.restrict_sender));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_relay(TableReader& r, Config& c) {
  TRY(networks(r, "networks", c.server.relay.networks));
  // "spool" is the old name of [queue] path.
  TRY(r.str("spool", c.server.outbound.queue_path));
  TRY(read_smarthost(r, c));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_server(TableReader& r, Config& c) {
  TRY(r.integer("worker_threads", c.server.worker_threads, 1, 256));
  TRY(r.seconds("shutdown_grace", c.server.shutdown_grace));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_users(TableReader& r, Config& c) {
  for (const auto& [k, v] : r.table()) {
    std::string dir;
    TRY(r.str(k.str(), dir));
    c.directory.users[std::string(k.str())] = dir;
  }
  return {};
}

// The aliases file (`file = "/etc/aliases"`, policy/aliases_file.hpp): read and parsed here, so
// that its errors come with the configuration's; expanded over the local domains in validate(),
// once they are final. "file" cannot be an alias: alias keys are addresses (local@domain).
tl::expected<void, std::string> read_aliases_file(TableReader& r, Config& c) {
  const auto* n = r.get("file");
  TRY(r.str("file", c.aliases_file));
  if (c.aliases_file.empty()) return tl::unexpected(r.where(n, "file") + ": must not be empty");
  std::FILE* f = std::fopen(c.aliases_file.c_str(), "rb");
  if (!f)
    return tl::unexpected(r.where(n, "file") + ": cannot read " + c.aliases_file + ": " +
                          std::strerror(errno));
  std::string text;
  char buf[8192];
  for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return tl::unexpected(r.where(n, "file") + ": cannot read " + c.aliases_file);
  auto parsed = policy::parse_aliases_file(text, c.aliases_file);
  if (!parsed) return tl::unexpected(parsed.error());
  c.file_aliases = std::move(*parsed);
  return {};
}

tl::expected<void, std::string> read_aliases(TableReader& r, Config& c) {
  for (const auto& [k, v] : r.table()) {
    if (k.str() == "file") {
      TRY(read_aliases_file(r, c));
      continue;
    }
    std::vector<std::string> targets;
    TRY(r.strings(k.str(), targets));
    if (targets.empty())
      return tl::unexpected(r.where(&v, k.str()) + ": an alias needs at least one target");
    c.directory.aliases[std::string(k.str())] = targets;
  }
  return {};
}

// spdlog::level::from_str() turns an unknown name into "off": a typo would silence the log.
tl::expected<void, std::string> log_level(TableReader& r, std::string_view key, std::string& out) {
  TRY(r.str(key, out));
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info",     "warning", "warn",
                                                 "error", "err",   "critical", "off"};
  for (const auto l : kLevels)
    if (out == l) return {};
  return tl::unexpected(r.where(r.get(key), key) +
                        ": must be \"trace\", \"debug\", \"info\", \"warning\", \"error\", "
                        "\"critical\" or \"off\"");
}

tl::expected<void, std::string> log_format(TableReader& r, std::string_view key, LogFormat& out) {
  std::string text;
  TRY(r.str(key, text));
  if (!r.get(key)) return {};
  auto f = parse_log_format(text);
  if (!f) return tl::unexpected(r.where(r.get(key), key) + ": " + f.error());
  out = *f;
  return {};
}

// [log] output = "stderr" (default) | "syslog" | a file path; format = "text" | "json"; level.
tl::expected<void, std::string> read_log(TableReader& r, Config& c) {
  TRY(r.str("output", c.log.output));
  if (c.log.output.empty())
    return tl::unexpected(r.where(r.get("output"), "output") +
                          ": must be \"stderr\", \"syslog\" or the path of a file");
  // A relative path would follow the working directory (/ under systemd): say so at once.
  if (c.log.output != "stderr" && c.log.output != "syslog" && c.log.output.front() != '/')
    return tl::unexpected(r.where(r.get("output"), "output") + ": \"" + c.log.output +
                          "\" is neither \"stderr\", \"syslog\" nor an absolute path");
  TRY(log_format(r, "format", c.log.format));
  TRY(log_level(r, "level", c.log_level));
  return r.no_unknown_keys();
}

tl::expected<void, std::string> read_dns(TableReader& r, Config& c) {
  TRY(r.strings("servers", c.dns_servers));
  for (const auto& s : c.dns_servers)
    if (!dns::parse_server(s))
      return tl::unexpected(r.where(r.get("servers"), "servers") + ": invalid server \"" + s +
                            "\" (expected \"ip\" or \"ip:port\")");
  std::string family;
  TRY(r.str("family", family));
  if (!family.empty()) {
    auto f = dns::parse_family(family);
    if (!f)
      return tl::unexpected(r.where(r.get("family"), "family") +
                            ": must be \"ipv6-first\", \"ipv4-first\", \"ipv4-only\" or "
                            "\"ipv6-only\"");
    c.dns_family = *f;
  }
  return r.no_unknown_keys();
}

}  // namespace

void finish(Config& c) {
  finish_srs(c);
  c.server.outbound.dns_servers = c.dns_servers;
  c.server.outbound.dns_family = c.dns_family;
  // Postfix's default for smtpd_client_connection_limit_exceptions is $mynetworks: loopback and
  // the relay networks have no per-client limit unless the operator says otherwise.
  if (!c.connection_limit_exempt_set) {
    c.server.connect.per_client_exempt = {*inet::Cidr::parse("127.0.0.0/8"),
                                          *inet::Cidr::parse("::1/128")};
    for (const auto& n : c.server.relay.networks) c.server.connect.per_client_exempt.push_back(n);
  }
}

std::string journal_path_for(const Config& c) {
  if (!c.journal || c.server.discard) return "";
  if (!c.journal_path.empty()) return c.journal_path;
  return c.directory.mail_root + "/.taube-journal";
}

Config default_config() {
  Config c;
  c.server.session.hostname = system_hostname();
  c.directory.mail_root = "./var/mail";
  c.directory.domains = {"localhost"};
  // STARTTLS out of the box: a self-signed certificate made on first start (README).
  c.server.tls = net::TlsConfig{"./var/tls/cert.pem", "./var/tls/key.pem"};
  c.tls_self_signed = true;
  finish(c);
  return c;
}

tl::expected<net::ListenerConfig, std::string> parse_listen(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos)
    return tl::unexpected("--listen " + spec + ": expected ADDR:PORT");
  std::string addr = spec.substr(0, colon);
  const std::string port = spec.substr(colon + 1);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  if (addr.empty()) addr = "0.0.0.0";
  unsigned p = 0;
  auto res = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || res.ec != std::errc{} || res.ptr != port.data() + port.size() || p > 65535)
    return tl::unexpected("--listen " + spec + ": invalid port");
  net::ListenerConfig l;
  l.address = addr;
  l.port = static_cast<std::uint16_t>(p);
  return l;
}

tl::expected<Config, std::string> load_config(const std::string& path) {
  Config c = default_config();
  auto parsed = parse_toml_file(path);
  if (!parsed) return tl::unexpected(parsed.error());
  const toml::table& root = *parsed;
  TableReader top(root, "", path);
  TRY(top.str("hostname", c.server.session.hostname));
  TRY(log_level(top, "log_level", c.log_level));
  TRY(log_format(top, "log_format", c.log.format));
  if (const auto* n = top.get("listener")) {
    if (!n->is_array_of_tables())
      return tl::unexpected(top.where(n, "listener") + ": expected [[listener]] tables");
    c.server.listeners.clear();
    for (const auto& e : *n->as_array()) {
      TableReader lr(*e.as_table(), "listener.", path);
      net::ListenerConfig l;
      TRY(lr.str("address", l.address));
      TRY(lr.integer("port", l.port, 0, 65535));
      std::string tls;
      TRY(lr.str("tls", tls));
      if (tls == "none")
        l.tls = net::TlsMode::None;
      else if (tls == "starttls")
        l.tls = net::TlsMode::StartTls;
      else if (tls == "required")
        l.tls = net::TlsMode::Required;
      else if (tls == "implicit")
        l.tls = net::TlsMode::Implicit;
      else if (!tls.empty())
        return tl::unexpected(lr.where(lr.get("tls"), "tls") +
                              ": must be \"none\", \"starttls\", \"required\" or \"implicit\"");
      TRY(lr.boolean("submission", l.submission));
      TRY(lr.boolean("auth", l.auth));
      TRY(lr.boolean("plaintext_auth", l.plaintext_auth));
      std::string protocol;
      TRY(lr.str("protocol", protocol));
      if (protocol == "lmtp")
        l.protocol = smtp::Dialect::Lmtp;
      else if (!protocol.empty() && protocol != "smtp")
        return tl::unexpected(lr.where(lr.get("protocol"), "protocol") +
                              ": must be \"smtp\" or \"lmtp\"");
      // RFC 2033 §1: LMTP must not be used on TCP port 25.
      if (l.protocol == smtp::Dialect::Lmtp && l.port == 25)
        return tl::unexpected(lr.where(lr.get("protocol"), "protocol") +
                              ": LMTP must not be used on port 25 (RFC 2033)");
      TRY(lr.boolean("proxy_protocol", l.proxy_protocol));
      TRY(networks(lr, "proxy_networks", l.proxy_networks));
      if (l.proxy_protocol && l.proxy_networks.empty())
        return tl::unexpected(lr.where(lr.get("proxy_protocol"), "proxy_protocol") +
                              ": needs proxy_networks (the addresses of the proxies)");
      TRY(lr.no_unknown_keys());
      c.server.listeners.push_back(l);
    }
  }
  auto section = [&](std::string_view key, auto&& fn) -> tl::expected<void, std::string> {
    const auto* n = top.get(key);
    if (!n) return {};
    if (!n->is_table()) return tl::unexpected(top.where(n, key) + ": expected a table");
    TableReader r(*n->as_table(), std::string(key) + ".", path);
    return fn(r);
  };
  TRY(section("limits", [&](TableReader& r) { return read_limits(r, c); }));
  TRY(section("smtp", [&](TableReader& r) { return read_smtp(r, c); }));
  TRY(section("delivery", [&](TableReader& r) { return read_delivery(r, c); }));
  TRY(section("server", [&](TableReader& r) { return read_server(r, c); }));
  TRY(section("tls", [&](TableReader& r) { return read_tls(r, c); }));
  TRY(section("auth", [&](TableReader& r) { return read_auth(r, c); }));
  TRY(section("relay", [&](TableReader& r) { return read_relay(r, c); }));
  TRY(section("users", [&](TableReader& r) { return read_users(r, c); }));
  TRY(section("queue", [&](TableReader& r) { return read_queue(r, c); }));
  TRY(section("outbound", [&](TableReader& r) { return read_outbound(r, c); }));
  TRY(section("transport", [&](TableReader& r) { return read_transport(r, c); }));
  TRY(section("aliases", [&](TableReader& r) { return read_aliases(r, c); }));
  TRY(section("dns", [&](TableReader& r) { return read_dns(r, c); }));
  TRY(section("srs", [&](TableReader& r) { return read_srs(r, c); }));
  TRY(section("log", [&](TableReader& r) { return read_log(r, c); }));
  TRY(section("metrics", [&](TableReader& r) { return read_metrics(r, c); }));
  TRY(section("console", [&](TableReader& r) { return read_console(r, c); }));
  TRY(top.no_unknown_keys());
  finish(c);
  return c;
}

tl::expected<policy::Directory, std::string> validate(const Config& cfg) {
  if (cfg.server.listeners.empty()) return tl::unexpected(std::string("no listener configured"));
  if (auto clash = metrics_clash(cfg.server))
    return tl::unexpected("metrics.listen: " + cfg.server.http->address + ":" +
                          std::to_string(cfg.server.http->port) +
                          " is the address of the SMTP listener " + *clash);
  if (auto clash = console_clash(cfg))
    return tl::unexpected("console.listen: " + cfg.console.listen->address + ":" +
                          std::to_string(cfg.console.listen->port) + " is the address of " +
                          *clash);
  if (cfg.directory.domains.empty())
    return tl::unexpected(std::string("delivery.domains: no local domain"));
  for (const auto& d : cfg.directory.domains)
    if (!smtp::is_valid_domain(d, true))
      return tl::unexpected("delivery.domains: invalid domain \"" + d + "\"");
  policy::DirectoryConfig dir = cfg.directory;
  // A local domain with an lmtp: transport entry keeps its users here but its mailboxes in that
  // store (like Postfix's virtual_transport = lmtp:unix:private/dovecot-lmtp): decided here, once
  // the domains are final (--domains may replace them after the file).
  dir.store_domains.clear();
  const auto& routing = cfg.server.outbound.routing;
  for (const auto& d : dir.domains) {
    const auto it = routing.transports.find(smtp::ascii_lower(d));
    if (it == routing.transports.end()) continue;
    const auto hop = queue::parse_transport(it->second, routing);
    if (hop && *hop && (*hop)->dialect == smtp::Dialect::Lmtp) dir.store_domains.push_back(d);
  }
  // The aliases file's entries, once per local domain for a bare name (policy/aliases_file.hpp);
  // an error the directory finds in one of them names the file's line too.
  auto origin =
      policy::add_file_aliases(cfg.file_aliases, cfg.aliases_file, dir.domains, dir.aliases);
  if (!origin) return tl::unexpected(origin.error());
  auto made = policy::Directory::create(std::move(dir));
  if (!made && made.error().rfind("aliases.\"", 0) == 0) {
    const auto end = made.error().find('"', 9);
    const std::string key = smtp::ascii_lower(made.error().substr(9, end - 9));
    if (auto it = origin->find(key); end != std::string::npos && it != origin->end())
      return tl::unexpected(cfg.aliases_file + ":" + std::to_string(it->second) + ": " +
                            made.error());
  }
  return made;
}

}  // namespace taube::app
