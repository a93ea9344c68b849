// taube: the command line. Subcommands: serve, check-config, passwd, route, queue, send, sendmail;
// called as mailq, sendmail or newaliases (argv[0]) it is that program.
#include <termios.h>
#include <unistd.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include "app/config.hpp"
#include "app/config_outbound.hpp"
#include "app/config_reload.hpp"
#include "app/config_srs.hpp"
#include "app/log_observer.hpp"
#include "app/metrics_observer.hpp"
#include "app/queue_command.hpp"
#include "app/route_command.hpp"
#include "app/send_command.hpp"
#include "app/sendmail_command.hpp"
#include "app/service_notify.hpp"
#include "app/signal_source.hpp"
#include "console/console.hpp"
#include "net/server.hpp"
#include "net/tls_context.hpp"
#include "store/durable_file.hpp"
#include "store/user_db.hpp"

namespace {

// SIGUSR1 reopens the log file, logrotate's habit (its postrotate script sends the signal
// after renaming the file); harmless for stderr and syslog output.
void reopen_log(taube::app::LogOutput& out) {
  if (auto r = out.reopen(); !r)
    spdlog::error("cannot reopen the log file {}, still writing to the old one: {}", out.file(),
                  r.error());
  else if (!out.file().empty())
    spdlog::info("reopened the log file {}", out.file());
}

std::string read_password(const char* prompt) {
  // No echo on a terminal; plain line from a pipe (scripts: echo secret | taube passwd user).
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios old{};
  if (tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string pw;
  std::getline(std::cin, pw);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return pw;
}

int set_password(const std::string& user, const std::string& file) {
  const std::string pw = read_password("Password: ");
  if (pw.empty()) {
    std::cerr << "taube: empty password\n";
    return 1;
  }
  if (isatty(STDIN_FILENO) && read_password("Again: ") != pw) {
    std::cerr << "taube: passwords differ\n";
    return 1;
  }
  if (auto r = taube::store::UserDb::set_password(file, user, pw); !r) {
    std::cerr << "taube: " << r.error() << "\n";
    return 1;
  }
  std::cout << "password for " << user << " set in " << file << "\n";
  return 0;
}

// What `systemctl status taube` shows (STATUS=, docs/running.md).
std::string service_status(taube::net::Server& server) {
  auto* q = server.queue();
  return taube::app::listening_status(server.endpoints()) + "; " +
         taube::app::running_status(server.connections(), q ? q->size() : 0, !q || q->loaded());
}

// systemd (Type=notify): READY=1 once the listeners are bound and the journal's recovery is done.
// Posted, so that it is sent from the running event loop that accepts the connections; the
// queue's background load may still be running (mail is accepted meanwhile, the STATUS= line
// says "loading"). Then a STATUS= line every 10 s (and WATCHDOG=1 if the unit asks for it).
void announce_ready(asio::io_context& io, taube::app::ServiceNotifier& notify,
                    taube::net::Server& server) {
  asio::post(io, [&] {
    if (server.stopping()) return;
    notify.ready(service_status(server));
    notify.keep_informed([&] { return service_status(server); }, std::chrono::seconds(10));
  });
}

struct ServeOptions {
  std::string config;
  std::vector<std::string> listen;
  std::string mail_root;
  std::vector<std::string> domains;
  std::string hostname;
};

// The file (or the built-in defaults) with the command line's values over it: at start and
// again at each SIGHUP.
tl::expected<taube::app::Config, std::string> serving_config(const ServeOptions& o) {
  using namespace taube;
  auto loaded = o.config.empty() ? tl::expected<app::Config, std::string>(app::default_config())
                                 : app::load_config(o.config);
  if (!loaded) return loaded;
  app::Config cfg = std::move(*loaded);
  if (!o.listen.empty()) {
    cfg.server.listeners.clear();
    for (const auto& l : o.listen) {
      auto parsed = app::parse_listen(l);
      if (!parsed) return tl::unexpected(parsed.error());
      cfg.server.listeners.push_back(*parsed);
    }
  }
  if (!o.mail_root.empty()) cfg.directory.mail_root = o.mail_root;
  if (!o.domains.empty()) cfg.directory.domains = o.domains;
  if (!o.hostname.empty()) cfg.server.session.hostname = o.hostname;
  cfg.server.journal_path = app::journal_path_for(cfg);
  return cfg;
}

// SIGHUP: the configuration file is read again and applied (app/config_reload.hpp says what
// waits for a restart). Returns the keys that were not applied; on an error nothing changes.
tl::expected<std::vector<std::string>, std::string> reload(const ServeOptions& o,
                                                           taube::app::Config& running,
                                                           taube::net::Server& server) {
  using namespace taube;
  auto next = serving_config(o);
  if (!next) return tl::unexpected(next.error());
  auto notes = app::keep_restart_only(running, *next);
  auto dir = app::validate(*next);
  if (!dir) return tl::unexpected(dir.error());
  if (next->tls_self_signed && next->server.tls) {
    if (auto r = net::ensure_self_signed(*next->server.tls, next->server.session.hostname); !r)
      return tl::unexpected("self-signed certificate: " + r.error());
  }
  if (auto r = server.reload(next->server, std::move(*dir)); !r) return tl::unexpected(r.error());
  running = std::move(*next);
  return notes;
}

int serve(const ServeOptions& o) {
  using namespace taube;
  // The loop first: everything on it, the signal source included, is destroyed before it.
  asio::io_context io(1);
  // Then, before anything starts a thread: app/signal_source.hpp says why.
  auto signals = app::SignalSource::open({SIGINT, SIGTERM, SIGHUP, SIGUSR1});
  if (!signals) {
    std::cerr << "taube: " << signals.error() << "\n";
    return 1;
  }
  auto loaded = serving_config(o);
  if (!loaded) {
    std::cerr << "taube: " << loaded.error() << "\n";
    return 2;
  }
  app::Config cfg = std::move(*loaded);
  auto log_output = app::LogOutput::open(cfg.log, cfg.log_level);
  if (!log_output) {
    std::cerr << "taube: " << log_output.error() << "\n";
    return 2;
  }
  auto dir = app::validate(cfg);
  if (!dir) {
    spdlog::critical("configuration: {}", dir.error());
    return 2;
  }
  if (auto made = store::make_directories(store::posix_fs(), cfg.directory.mail_root); !made) {
    spdlog::critical("cannot create mail root {}: {}", cfg.directory.mail_root,
                     store::to_string(made.error()));
    return 1;
  }
  // Connections and messages in flight each take a descriptor: use what the hard limit allows
  // (systemd's default soft limit of 1024 would cap Taube far below max_connections).
  if (struct rlimit nofile{};
      ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // A client that vanishes must not kill us with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);

  if (cfg.tls_self_signed && cfg.server.tls) {
    if (auto r = net::ensure_self_signed(*cfg.server.tls, cfg.server.session.hostname); !r) {
      spdlog::critical("self-signed certificate: {}", r.error());
      return 1;
    }
  }
  app::ServiceNotifier notify(io);
  net::Server server(io, cfg.server, std::move(*dir));
  app::LogObserver log_lines(**log_output);
  server.observe(log_lines);
  // [metrics] listen: counts the events and serves /metrics and /healthz (docs/metrics.md).
  app::MetricsObserver metrics;
  metrics.attach(server);
  // [console]: the web console (docs/console.md), with the log lines tapped for its live log.
  std::unique_ptr<console::Console> web;
  if (cfg.console.enabled) {
    cfg.console.mail_root = cfg.directory.mail_root;
    auto feed = std::make_shared<console::LogFeed>();
    for (std::size_t t = 0; t < app::kLogTags; ++t)
      (*log_output)->logger(static_cast<app::LogTag>(t)).sinks().push_back(feed);
    web = std::make_unique<console::Console>(io, server, cfg.console, feed);
    if (auto r = web->attach(); !r) {
      spdlog::critical("{}", r.error());
      return 2;
    }
  }
  if (auto r = server.load_credentials(); !r) {
    spdlog::critical("{}", r.error());
    return 2;
  }
  notify.status("recovering the delivery journal");
  server.clean_maildirs();
  if (auto r = server.open_journal(); !r) {
    spdlog::critical("{}", r.error());
    return 1;
  }
  notify.status("reading the queue");
  if (auto r = server.open_queue(); !r) {
    spdlog::critical("{}", r.error());
    return 1;
  }
  // Signals are read on the loop (app/signal_source.hpp). One sent during start-up stays
  // pending until io.run() starts: a SIGTERM that arrives as soon as a client (or a test) can
  // connect stops the server cleanly.
  auto reload_now = [&] {
    // SIGHUP: new connections and the queue's next attempts use the file's configuration.
    notify.reloading("reloading the configuration");
    const std::string old_level = cfg.log_level;
    auto r = reload(o, cfg, server);
    if (!r) {
      spdlog::error("reload failed, the configuration in force is unchanged: {}", r.error());
      notify.ready("reload failed, the configuration in force is unchanged: " + r.error());
      return;
    }
    // The reload's line at the more verbose of the two levels: it is seen when the level goes
    // from info to warning as well as back.
    const bool quieter =
        spdlog::level::from_str(cfg.log_level) > spdlog::level::from_str(old_level);
    if (!quieter) (*log_output)->set_level(cfg.log_level);
    if (r->empty())
      spdlog::info("reloaded the configuration");
    else
      spdlog::warn("reloaded the configuration; needs a restart to change: {}",
                   fmt::join(*r, ", "));
    if (quieter) (*log_output)->set_level(cfg.log_level);
    notify.ready(service_status(server));
  };
  (*signals)->start(io, [&](int sig) {
    if (sig == SIGHUP || sig == SIGUSR1) {
      if (server.stopping()) return;
      if (sig == SIGHUP)
        reload_now();
      else
        reopen_log(**log_output);
      return;
    }
    spdlog::info("received signal {}, stopping", sig);
    notify.stopping(fmt::format("stopping: {} connection(s) open", server.connections()));
    server.stop();
    if (web) web->stop();
    // Nothing more to read: io.run() returns once the connections and the queue are done.
    (*signals)->close();
  });
  if (auto r = server.listen(); !r) {
    spdlog::critical("{}", r.error());
    return 1;
  }
  if (web) {
    if (auto r = web->listen(); !r) {
      spdlog::critical("{}", r.error());
      return 1;
    }
  }
  spdlog::info("taube {} ready: hostname={} mail_root={} domains={}", TAUBE_VERSION,
               cfg.server.session.hostname, cfg.directory.mail_root,
               fmt::join(cfg.directory.domains, ","));
  server.start();
  if (web) web->start();
  announce_ready(io, notify, server);
  // Returns once the server has stopped and every connection has finished.
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Called as mailq (a symlink, as /usr/bin/mailq -> taube): the queue's listing.
  if (argc > 0 && std::filesystem::path(argv[0]).filename() == "mailq")
    return taube::app::mailq_main(argc, argv);
  // Called as sendmail or newaliases (/usr/sbin/sendmail -> taube): docs/sendmail.md.
  if (argc > 0) {
    const std::string program = std::filesystem::path(argv[0]).filename().string();
    if (program == "sendmail" || program == "newaliases")
      return taube::app::run_sendmail(program, std::vector<std::string>(argv + 1, argv + argc));
  }
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

  std::string passwd_user, passwd_file = "./var/users";
  auto* passwd_cmd = app.add_subcommand(
      "passwd", "Add or change a user in the AUTH users file (password read from standard input)");
  passwd_cmd->add_option("user", passwd_user, "User name (usually the e-mail address)")->required();
  passwd_cmd
      ->add_option("-f,--file", passwd_file, "Users file (user:hash[:scram-sha-256=...] lines)")
      ->capture_default_str();

  taube::app::RouteCommand route;
  taube::app::add_route_command(app, route);
  taube::app::QueueCommand queue_cmd;
  taube::app::add_queue_command(app, queue_cmd);

  if (auto rc = taube::app::run_send_if_asked(app, argc, argv)) return *rc;
  if (auto rc = taube::app::run_sendmail_if_asked(app, argc, argv)) return *rc;
  CLI11_PARSE(app, argc, argv);

  if (*route.command) return taube::app::run_route_command(route);
  if (*queue_cmd.command) return taube::app::run_queue_command(queue_cmd);

  if (*passwd_cmd) return set_password(passwd_user, passwd_file);

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
    for (const auto& w : taube::app::outbound_warnings(*cfg))
      std::cerr << "taube: " << check_file << ": warning: " << w << "\n";
    for (const auto& n : taube::app::srs_notes(*cfg)) std::cout << check_file << ": " << n << "\n";
    std::cout << check_file << ": ok\n";
    return 0;
  }
  return serve(so);
}
