// taube: the command line. Subcommands: serve, check-config.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include "app/config.hpp"
#include "net/server.hpp"

namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_st("taube");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

struct ServeOptions {
  std::string config;
  std::vector<std::string> listen;
  std::string mail_root;
  std::vector<std::string> domains;
  std::string hostname;
};

int serve(const ServeOptions& o) {
  using namespace taube;
  auto loaded = o.config.empty() ? tl::expected<app::Config, std::string>(app::default_config())
                                 : app::load_config(o.config);
  if (!loaded) {
    std::cerr << "taube: " << loaded.error() << "\n";
    return 2;
  }
  app::Config cfg = std::move(*loaded);
  // Command-line values override the file.
  if (!o.listen.empty()) {
    cfg.server.listeners.clear();
    for (const auto& l : o.listen) {
      auto parsed = app::parse_listen(l);
      if (!parsed) {
        std::cerr << "taube: " << parsed.error() << "\n";
        return 2;
      }
      cfg.server.listeners.push_back(*parsed);
    }
  }
  if (!o.mail_root.empty()) cfg.directory.mail_root = o.mail_root;
  if (!o.domains.empty()) cfg.directory.domains = o.domains;
  if (!o.hostname.empty()) cfg.server.session.hostname = o.hostname;
  setup_logging(cfg.log_level);
  auto dir = app::validate(cfg);
  if (!dir) {
    spdlog::critical("configuration: {}", dir.error());
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.directory.mail_root, ec);
  if (ec) {
    spdlog::critical("cannot create mail root {}: {}", cfg.directory.mail_root, ec.message());
    return 1;
  }
  // A client that vanishes must not kill us with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  asio::io_context io(1);
  net::Server server(io, cfg.server, std::move(*dir));
  server.clean_maildirs();
  if (auto r = server.listen(); !r) {
    spdlog::critical("{}", r.error());
    return 1;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& e, int sig) {
    if (e) return;
    spdlog::info("received signal {}, stopping", sig);
    server.stop();
  });
  spdlog::info("taube {} ready: hostname={} mail_root={} domains={}", TAUBE_VERSION,
               cfg.server.session.hostname, cfg.directory.mail_root,
               fmt::join(cfg.directory.domains, ","));
  server.start();
  // Returns once the server has stopped and every connection has finished.
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Taube - an ESMTP mail server that files mail into Maildir inboxes"};
  app.set_version_flag("--version", std::string("taube ") + TAUBE_VERSION);
  app.require_subcommand(1);

  ServeOptions so;
  auto* serve_cmd = app.add_subcommand("serve", "Run the SMTP server");
  serve_cmd->add_option("-c,--config", so.config, "TOML configuration file")
      ->check(CLI::ExistingFile);
  serve_cmd->add_option("--listen", so.listen, "ADDR:PORT to listen on (repeatable; port 0 = any)");
  serve_cmd->add_option("--mail-root", so.mail_root, "Root directory of the Maildirs");
  serve_cmd->add_option("--domain", so.domains, "Local domain (repeatable)");
  serve_cmd->add_option("--hostname", so.hostname, "Host name for the greeting and Received");

  std::string check_file;
  auto* check_cmd = app.add_subcommand("check-config", "Validate a configuration file");
  check_cmd->add_option("file", check_file, "TOML configuration file")->required();

  CLI11_PARSE(app, argc, argv);

  if (*check_cmd) {
    auto cfg = taube::app::load_config(check_file);
    if (!cfg) {
      std::cerr << "taube: " << cfg.error() << "\n";
      return 1;
    }
    if (auto dir = taube::app::validate(*cfg); !dir) {
      std::cerr << "taube: " << check_file << ": " << dir.error() << "\n";
      return 1;
    }
    std::cout << check_file << ": ok\n";
    return 0;
  }
  return serve(so);
}
