#include "app/sendmail_command.hpp"

#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include "app/config.hpp"
#include "app/queue_command.hpp"
#include "app/send_dialog.hpp"
#include "app/send_input.hpp"
#include "app/sendmail_args.hpp"
#include "app/sendmail_config.hpp"
#include "app/sendmail_message.hpp"
#include "net/outbound_connection.hpp"
#include "net/queue_id.hpp"
#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"

namespace taube::app {

namespace {

namespace ex = sendmail_exit;
using smtp::client::Outcome;

constexpr const char* kUsageText =
    "usage: sendmail [-t] [-i] [-f sender] [-F name] [-N dsn] [-B 7BIT|8BITMIME] [-V envid] "
    "[-R full|hdrs] [-C config] [-v] [-bm|-bs|-bp|-bi|-q] [--] [recipient ...]";

// sendmail's -C, else $TAUBE_CONFIG (as Postfix's MAIL_CONFIG names another instance: mail(1),
// cron and PHP run sendmail without options of ours), else /etc/taube/taube.toml when it
// exists, else the built-in defaults (the same rule as mailq).
std::string config_path(const SendmailArgs& a) {
  if (!a.config.empty()) return a.config;
  if (const char* env = std::getenv("TAUBE_CONFIG"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::exists("/etc/taube/taube.toml", ec)) return "/etc/taube/taube.toml";
  return {};
}

tl::expected<Config, std::string> load(const std::string& path) {
  return path.empty() ? tl::expected<Config, std::string>(default_config()) : load_config(path);
}

struct Identity {
  std::string login;
  std::string full_name;
};

// The real user: getpwuid(getuid()), as Postfix's sendmail (not $USER, which anyone can set;
// the server logs the kernel's uid anyway). Full name: -F, $NAME, the passwd GECOS field.
Identity identity(const SendmailArgs& a) {
  Identity id;
  const passwd* pw = ::getpwuid(::getuid());
  id.login = pw && pw->pw_name ? pw->pw_name : "uid" + std::to_string(::getuid());
  if (a.full_name) {
    id.full_name = *a.full_name;
  } else if (const char* n = std::getenv("NAME"); n && *n) {
    id.full_name = n;
  } else if (pw && pw->pw_gecos) {
    id.full_name = std::string(pw->pw_gecos).substr(0, std::string(pw->pw_gecos).find(','));
  }
  return id;
}

std::string qualify(std::string a, const std::string& origin) {
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  if (!a.empty() && a.find('@') == std::string::npos) a += "@" + origin;
  return a;
}

bool non_ascii(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

std::string message_id(const std::string& host) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  return "<" + std::string(stamp) + "." + net::new_queue_id() + "@" + host + ">";
}

int not_running(const std::string& path, const std::string& why) {
  std::cerr << "sendmail: cannot submit: the taube server is not reachable at " << path << ": "
            << why
            << " (is `taube serve` running with this configuration? Taube does not queue mail "
               "without its server)\n";
  return ex::kTempFail;
}

// -bs: standard input and output joined to a session on the submit socket.
int smtp_session(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return not_running(path, why);
  }
  std::signal(SIGPIPE, SIG_IGN);
  bool input_open = true;
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (::poll(p, input_open ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents != 0) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;  // the server closed the session (QUIT, 421)
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(STDOUT_FILENO, buf + off, static_cast<std::size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          ::close(fd);
          return ex::kIoErr;
        }
        off += w;
      }
    }
    if (input_open && p[1].revents != 0) {
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        // The client's end of input: the session ends as the server sees fit (a lost
        // connection mid-transaction discards the message, RFC 5321 §4.1.1.4).
        input_open = false;
        ::shutdown(fd, SHUT_WR);
        continue;
      }
      for (ssize_t off = 0; off < n;) {
        const ssize_t w = ::write(fd, buf + off, static_cast<std::size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          ::close(fd);
          return ex::kIoErr;
        }
        off += w;
      }
    }
  }
  ::close(fd);
  return ex::kOk;
}

int newaliases(const SendmailArgs& a, const Config& cfg, const std::string& path) {
  // The server reads the aliases itself (at start, and on SIGHUP with the whole configuration):
  // there is no database to rebuild, as with Postfix's hash tables. Like Postfix, nothing is
  // said on success; -v says what was checked.
  if (auto dir = validate(cfg); !dir) {
    std::cerr << "newaliases: " << (path.empty() ? "built-in configuration" : path) << ": "
              << dir.error() << "\n";
    return ex::kConfig;
  }
  if (a.verbose) {
    std::cout << "newaliases: "
              << (cfg.aliases_file.empty()
                      ? std::string("no [aliases] file configured")
                      : cfg.aliases_file + ": " + std::to_string(cfg.file_aliases.entries.size()) +
                            " aliases, valid")
              << "; the taube server reads its aliases when it starts or reloads (SIGHUP: "
                 "systemctl reload taube), nothing to rebuild\n";
  }
  return ex::kOk;
}

struct Submission {
  smtp::client::OutboundMessage message;
  std::string content;
  std::string socket;
  std::string host;
  bool verbose = false;
  int result = ex::kSoftware;
};

int exit_for(const smtp::client::MessageResult& r, const Submission& s) {
  int rc = ex::kOk;
  for (const auto& x : r.recipients) {
    if (x.outcome == Outcome::Accepted) continue;
    const std::string who = x.index < s.message.recipients.size()
                                ? s.message.recipients[x.index].mailbox.to_string()
                                : "?";
    std::cerr << "sendmail: <" << who << ">: " << x.reply << "\n";
    // Refused beats deferred (the sender must act); an unknown user is EX_NOUSER (RFC 3463
    // 5.1.x: bad destination mailbox address).
    if (x.outcome == Outcome::Failed) {
      const int code = x.status.rfind("5.1.", 0) == 0 ? ex::kNoUser : ex::kUnavailable;
      if (rc == ex::kOk || rc == ex::kTempFail || code == ex::kNoUser) rc = code;
    } else if (rc == ex::kOk) {
      rc = ex::kTempFail;
    }
  }
  return rc;
}

asio::awaitable<void> submit(asio::io_context& io, Submission& s) {
  SendDialog dialog(s.content);
  net::OutboundTarget target;
  target.host = s.host;
  target.unix_path = s.socket;
  smtp::client::ClientConfig client;
  client.helo_name = s.host;
  client.tls = smtp::client::TlsPolicy::None;  // a local socket
  client.use_bdat = false;
  std::string error;
  std::optional<smtp::client::SessionFailure> failure;
  std::vector<std::string> transcript;
  const std::shared_ptr<asio::ssl::context> no_tls;
  const std::chrono::seconds connect_timeout(30);
  auto conn = co_await net::OutboundConnection::open(io, target, client, no_tls, connect_timeout,
                                                     error, failure, nullptr, &transcript);
  if (!conn) {
    if (s.verbose) std::cout << dialog.lines(transcript);
    if (!failure) {
      s.result = not_running(s.socket, error.substr(error.rfind(": ") + 2));
    } else {
      std::cerr << "sendmail: " << error << "\n";
      s.result = failure->outcome == Outcome::Failed ? ex::kUnavailable : ex::kTempFail;
    }
    co_return;
  }
  if (s.verbose) std::cout << dialog.lines(conn->session().transcript()) << std::flush;
  const auto result = co_await conn->send(s.message, s.content);
  // Each message starts the session's transcript afresh (taube send shows it the same way).
  if (s.verbose) std::cout << dialog.lines(conn->session().transcript()) << std::flush;
  const std::size_t sent = conn->session().transcript().size();
  co_await conn->quit();
  if (s.verbose) std::cout << dialog.lines(conn->session().transcript(), sent) << std::flush;
  s.result = exit_for(result, s);
}

// The origin is Postfix's myorigin, for a sender or recipient without a domain: the first local
// domain (so that cron's mail to "root" stays here), else the host name.
int deliver(const SendmailArgs& a, const SubmitterConfig& cfg) {
  const std::string& origin = cfg.origin;
  const std::string& host = cfg.hostname;
  const Identity me = identity(a);
  Submission s;
  s.socket = cfg.submit_socket;
  s.host = host;
  s.verbose = a.verbose;
  if (s.socket.empty()) {
    std::cerr << "sendmail: [queue] submit_socket is empty: the server takes no local "
                 "submissions\n";
    return ex::kConfig;
  }
  // The envelope sender: -f/-r, else the user at the origin.
  const std::string sender = a.sender ? qualify(*a.sender, origin) : me.login + "@" + origin;
  if (sender.empty()) {
    s.message.sender.null = true;
  } else if (auto m = smtp::parse_mailbox(sender); m) {
    s.message.sender.mailbox = *m;
  } else {
    std::cerr << "sendmail: -f " << sender << ": not an address\n";
    return ex::kUsage;
  }
  // The message, read to its end (or to the "." line without -i).
  InputReader reader(!a.ignore_dots);
  char buf[65536];
  while (!reader.ended()) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::cerr << "sendmail: cannot read the message: " << std::strerror(errno) << "\n";
      return ex::kIoErr;
    }
    if (n == 0) break;
    reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  reader.finish();
  const ParsedMessage parsed = split_message(reader.take_lines());
  // The recipients: the operands (each an address list: "a@x, b@y" and "Name <a@x>" work),
  // and with -t those of the headers too, as Postfix adds them.
  std::vector<std::pair<std::string, bool>> wanted;  // address, from the command line
  for (const auto& r : a.recipients)
    for (auto& addr : parse_address_list(r)) wanted.emplace_back(std::move(addr), true);
  if (a.extract_recipients)
    for (auto& addr : header_recipients(parsed)) wanted.emplace_back(std::move(addr), false);
  if (wanted.empty()) {
    std::cerr << (a.extract_recipients ? "sendmail: no recipient addresses found in the message "
                                         "header\n"
                                       : "sendmail: no recipients given (or use -t)\n");
    return a.extract_recipients ? ex::kDataErr : ex::kUsage;
  }
  bool utf8 = non_ascii(sender);
  for (const auto& [raw, from_args] : wanted) {
    const std::string addr = qualify(raw, origin);
    auto m = smtp::parse_mailbox(addr);
    if (!m || m->domain.empty()) {
      std::cerr << "sendmail: " << raw << ": not an address\n";
      return from_args ? ex::kUsage : ex::kDataErr;
    }
    bool dup = false;
    for (const auto& r : s.message.recipients)
      dup = dup || smtp::ascii_lower(r.mailbox.to_string()) == smtp::ascii_lower(addr);
    if (dup) continue;
    utf8 = utf8 || non_ascii(addr);
    smtp::client::OutboundRecipient r{*m, {}};
    r.params.notify = a.notify;
    s.message.recipients.push_back(std::move(r));
  }
  PrepareInput in;
  in.from = from_value(me.full_name, s.message.sender.null ? me.login + "@" + origin : sender);
  in.date = net::rfc5322_date_now();
  in.message_id = message_id(host);
  const PreparedMessage prepared = prepare_message(parsed, in);
  s.content = prepared.content;
  auto& p = s.message.params;
  p.size = s.content.size();
  p.body = a.body ? *a.body
                  : (prepared.eight_bit ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit);
  p.smtputf8 = utf8;  // RFC 6531: non-ASCII addresses
  p.ret = a.ret;
  p.envid = a.envid;
  if (a.verbose && !a.ignored.empty()) {
    std::cout << SendDialog::note("ignored options:");
    for (const auto& o : a.ignored) std::cout << " " << o;
    std::cout << "\n";
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  bool crashed = false;
  asio::co_spawn(io, submit(io, s), [&](std::exception_ptr e) { crashed = e != nullptr; });
  io.run();
  if (crashed) {
    std::cerr << "sendmail: internal error\n";
    return ex::kSoftware;
  }
  return s.result;
}

}  // namespace

int run_sendmail(const std::string& program, const std::vector<std::string>& args) {
  auto parsed = parse_sendmail_args(args);
  if (!parsed) {
    std::cerr << program << ": " << parsed.error() << "\n" << kUsageText << "\n";
    return ex::kUsage;
  }
  SendmailArgs a = std::move(*parsed);
  if (program == "newaliases") a.mode = SendmailMode::Newaliases;
  const std::string path = config_path(a);
  if (a.mode == SendmailMode::ListQueue) return run_mailq(path);
  if (a.mode == SendmailMode::Flush) {
    QueueCommand qc;
    qc.config = path;
    qc.words = {"flush"};
    if (!a.flush_domain.empty()) qc.words.push_back(a.flush_domain);
    return run_queue_command(qc);
  }
  if (a.mode == SendmailMode::Newaliases) {
    auto cfg = load(path);
    if (!cfg) {
      std::cerr << program << ": " << cfg.error() << "\n";
      return ex::kConfig;
    }
    return newaliases(a, *cfg, path);
  }
  // Only the keys a submission needs: an ordinary user may not read the secrets a full load
  // would read (app/sendmail_config.hpp).
  auto cfg = load_submitter_config(path);
  if (!cfg) {
    std::cerr << program << ": " << cfg.error() << "\n";
    return ex::kConfig;
  }
  if (a.mode == SendmailMode::Smtp) {
    if (cfg->submit_socket.empty()) {
      std::cerr << program << ": [queue] submit_socket is empty\n";
      return ex::kConfig;
    }
    return smtp_session(cfg->submit_socket);
  }
  return deliver(a, *cfg);
}

std::optional<int> run_sendmail_if_asked(CLI::App& app, int argc, char** argv) {
  app.add_subcommand("sendmail",
                     "Submit a message like sendmail(8) through the running server "
                     "(docs/sendmail.md; also when called as sendmail or newaliases)")
      ->allow_extras()
      ->prefix_command();
  if (argc < 2 || std::string_view(argv[1]) != "sendmail") return std::nullopt;
  return run_sendmail("sendmail", std::vector<std::string>(argv + 2, argv + argc));
}

}  // namespace taube::app
