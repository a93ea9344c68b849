#include "app/send_command.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <random>

#include <CLI/CLI.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "app/mime_compose.hpp"
#include "app/send_dialog.hpp"
#include "app/send_input.hpp"
#include "crypto/openssl_sasl.hpp"
#include "net/nexthop_resolver.hpp"
#include "net/outbound_connection.hpp"
#include "net/resolver.hpp"
#include "net/tls_context.hpp"
#include "queue/route.hpp"
#include "smtp/wire/address.hpp"

namespace taube::app {

namespace {

using smtp::client::Outcome;

enum class TlsMode { Opportunistic, StartTls, Implicit, None };

struct SendOptions {
  std::string server;  // host[:port]; empty: MX of the first recipient's domain
  std::string from;
  bool from_given = false;
  std::vector<std::string> to;
  bool starttls = false, tls = false, no_tls = false, no_verify = false;
  std::string ca_file;
  std::string auth_user;
  std::string password_file;
  bool plaintext_auth = false;
  std::vector<std::string> headers;
  std::string subject = "test";
  std::string body;  // FILE or "-"
  std::vector<std::string> attach;
  std::string helo;
  std::vector<std::string> dns_servers;
  std::uint16_t port = 0;  // 0: 25, or 465 with --tls
  double timeout = 60;
  bool bdat = false;
  bool verbose = false;
};

void declare(CLI::App& cmd, SendOptions& o) {
  cmd.add_option("-s,--server", o.server,
                 "host[:port], [v6]:port or an IP address (port 25, 465 with --tls); "
                 "default: the MX hosts of the first recipient's domain");
  cmd.add_option("-f,--from", o.from,
                 "Envelope sender and From: header (default: login@hostname; \"\" for <>)");
  cmd.add_option("-t,--to", o.to, "Recipient (repeatable)")->required();
  auto* st = cmd.add_flag("--starttls", o.starttls, "Require STARTTLS (RFC 3207)");
  auto* it = cmd.add_flag("--tls", o.tls, "Implicit TLS from the first octet (RFC 8314, port 465)");
  auto* nt = cmd.add_flag("--no-tls", o.no_tls, "Plaintext only, even when STARTTLS is offered");
  st->excludes(it)->excludes(nt);
  it->excludes(nt);
  cmd.add_flag("--no-verify", o.no_verify,
               "Do not verify the server's certificate (verified by default: the chain against "
               "the system's trust store or --ca-file, and the host name)");
  cmd.add_option("--ca-file", o.ca_file,
                 "PEM file of trusted certificates (instead of the system's)")
      ->check(CLI::ExistingFile);
  cmd.add_option("-a,--auth", o.auth_user,
                 "AUTH as USER (PLAIN, LOGIN or SCRAM-SHA-256); the password comes from "
                 "TAUBE_PASSWORD, --password-file or a prompt, never from the command line");
  cmd.add_option("--password-file", o.password_file, "File whose first line is the password");
  cmd.add_flag("--plaintext-auth", o.plaintext_auth,
               "Allow AUTH without TLS (the password crosses the network readable)");
  cmd.add_option("-H,--header", o.headers, "\"Name: value\" header (repeatable)");
  cmd.add_option("--subject", o.subject, "Subject (default: test)")->capture_default_str();
  cmd.add_option("-b,--body", o.body, "Body from FILE, or - for standard input");
  cmd.add_option("--attach", o.attach, "Attach FILE (repeatable; MIME multipart/mixed, base64)");
  cmd.add_option("--helo", o.helo, "Name for EHLO (default: this host's name)");
  cmd.add_option("--dns-server", o.dns_servers,
                 "DNS server ip or ip:port for the MX lookup (repeatable; for tests and odd "
                 "networks; default: /etc/resolv.conf)");
  cmd.add_option(
         "-p,--port", o.port,
         "Port for the MX hosts and for a --server without one (default 25, 465 with --tls)")
      ->check(CLI::Range(1, 65535));
  cmd.add_option("--timeout", o.timeout, "Seconds for the connection and each reply")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd.add_flag("--bdat", o.bdat, "Send the content with BDAT when CHUNKING is offered (RFC 3030)");
  cmd.add_flag("-v,--verbose", o.verbose, "Show the SMTP dialog (C: client, S: server)");
}

std::string random_hex(std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(kHex[rd() % 16]);
  return s;
}

std::string now_date(std::time_t t) {
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return rfc5322_date(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, tm.tm_wday, tm.tm_gmtoff);
}

// One client context per target: verification checks the chain and the host name (OpenSSL's
// X509_VERIFY_PARAM on the context is copied into the connection's SSL object).
tl::expected<std::shared_ptr<asio::ssl::context>, std::string> tls_for(const SendOptions& o,
                                                                       const std::string& host) {
  const bool verify = !o.no_verify;
  auto ctx = net::make_client_tls_context(verify && o.ca_file.empty());
  if (!ctx || !verify) return ctx;
  SSL_CTX* native = (*ctx)->native_handle();
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, o.ca_file.c_str(), nullptr) != 1)
      return tl::unexpected("cannot load --ca-file " + o.ca_file);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(native);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  asio::error_code ec;
  asio::ip::make_address(host, ec);
  const int ok = !ec ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) return tl::unexpected("cannot verify a certificate for " + host);
  return ctx;
}

// -v: the dialog on standard output (app/send_dialog.hpp).
class Dialog {
 public:
  Dialog(bool on, const std::string& content) : on_(on), lines_(content) {}
  void note(const std::string& s) const {
    if (on_) std::cout << SendDialog::note(s) << std::flush;
  }
  void lines(const std::vector<std::string>& t, std::size_t from, const std::string& tls) {
    if (on_) std::cout << lines_.lines(t, from, tls) << std::flush;
  }

 private:
  bool on_;
  SendDialog lines_;
};

// The exit code of a message's results: refused wins over deferred (the sender must act).
int exit_for(const smtp::client::MessageResult& r) {
  bool failed = false, deferred = false;
  for (const auto& x : r.recipients) {
    if (x.outcome == Outcome::Failed) failed = true;
    if (x.outcome == Outcome::Deferred || x.outcome == Outcome::Unknown) deferred = true;
  }
  return failed ? send_exit::kUnavailable : deferred ? send_exit::kTempFail : send_exit::kDelivered;
}

const char* outcome_word(Outcome o) {
  switch (o) {
    case Outcome::Accepted:
      return "delivered";
    case Outcome::Failed:
      return "refused";
    case Outcome::Unknown:
      return "unknown (connection lost after the end of data)";
    case Outcome::Deferred:
      break;
  }
  return "deferred";
}

struct Job {
  SendOptions opts;
  smtp::client::OutboundMessage message;
  std::string content;
  queue::Nexthop hop;
  smtp::client::ClientConfig client;
  std::unique_ptr<net::Resolver> resolver;
  int result = send_exit::kSoftware;
};

// A fixed --server host name through the system's resolver (getaddrinfo: /etc/hosts as the user
// expects of a host name on the command line); MX lookups go through net::Resolver.
asio::awaitable<net::ResolvedNexthop> targets_of(asio::io_context& io, Job& job) {
  asio::error_code ec;
  asio::ip::make_address(job.hop.host, ec);
  if (job.hop.mx || !ec) {
    net::NexthopOptions no;
    const std::function<double()> draw = [] {
      static std::mt19937_64 rng(std::random_device{}());
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
    co_return co_await net::resolve_nexthop(io, job.resolver.get(), job.hop, no, draw);
  }
  net::ResolvedNexthop out;
  asio::ip::tcp::resolver r(io);
  auto [rec, results] = co_await r.async_resolve(job.hop.host, std::to_string(job.hop.port),
                                                 asio::experimental::as_tuple(asio::use_awaitable));
  if (rec) {
    out.status = net::ResolvedNexthop::Status::TempFail;
    out.reply = "451 4.4.3 cannot resolve " + job.hop.host + ": " + rec.message();
    co_return out;
  }
  for (const auto& e : results) {
    if (out.targets.size() >= 5) break;
    out.targets.push_back({job.hop.host, e.endpoint().address(), job.hop.port, {}});
  }
  co_return out;
}

asio::awaitable<void> deliver(asio::io_context& io, Job& job) {
  const SendOptions& o = job.opts;
  Dialog dialog(o.verbose, job.content);
  const net::ResolvedNexthop resolved = co_await targets_of(io, job);
  if (resolved.status != net::ResolvedNexthop::Status::Ok) {
    std::cerr << "taube send: " << job.hop.host << ": " << resolved.reply << "\n";
    job.result = resolved.status == net::ResolvedNexthop::Status::PermFail ? send_exit::kUnavailable
                                                                           : send_exit::kTempFail;
    co_return;
  }
  const auto timeout = std::chrono::seconds(std::max<long>(1, std::lround(o.timeout)));
  std::unique_ptr<net::OutboundConnection> conn;
  std::string error;
  std::optional<smtp::client::SessionFailure> failure;
  // RFC 5321 §5.1: the addresses in order, like the queue (two refused sessions end it).
  int sessions = 0;
  for (const auto& target : resolved.targets) {
    auto tls = tls_for(o, target.host);
    if (!tls) {
      std::cerr << "taube send: " << tls.error() << "\n";
      job.result = send_exit::kSoftware;
      co_return;
    }
    dialog.note("Trying " + target.relay() + "...");
    failure.reset();
    error.clear();
    std::vector<std::string> transcript;
    conn = co_await net::OutboundConnection::open(io, target, job.client, *tls, timeout, error,
                                                  failure, nullptr, &transcript);
    if (conn) {
      dialog.note("Connected to " + target.relay());
      if (job.client.tls_active) dialog.note("TLS started: " + conn->tls_description());
      dialog.lines(conn->session().transcript(), 0, conn->tls_description());
      break;
    }
    if (!transcript.empty()) dialog.note("Connected to " + target.relay());
    dialog.lines(transcript, 0, "");
    std::cerr << "taube send: " << error << "\n";
    if (failure && failure->tls_failed && !o.no_verify)
      std::cerr << "taube send: (--no-verify skips the certificate check, --ca-file names a "
                   "private CA, --no-tls sends in plaintext)\n";
    if (failure && ++sessions >= 2) break;
  }
  if (!conn) {
    job.result = send_exit::kTempFail;
    if (failure && failure->outcome == Outcome::Failed)
      job.result = failure->stage == "auth" ? send_exit::kNoPerm : send_exit::kUnavailable;
    co_return;
  }
  smtp::client::OutboundMessage msg = job.message;
  if (std::any_of(job.content.begin(), job.content.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    msg.params.body = smtp::BodyType::EightBitMime;
  const auto result = co_await conn->send(msg, job.content);
  dialog.lines(conn->session().transcript(), 0, "");
  const std::size_t seen = conn->session().transcript().size();
  co_await conn->quit();
  dialog.lines(conn->session().transcript(), seen, "");
  for (const auto& r : result.recipients) {
    const std::string who =
        r.index < msg.recipients.size() ? msg.recipients[r.index].mailbox.to_string() : "?";
    std::cout << "<" << who << "> " << outcome_word(r.outcome) << ": " << r.reply << "\n";
  }
  job.result = exit_for(result);
}

int run_send(const SendOptions& o) {
  Job job;
  job.opts = o;
  // The envelope.
  std::string from = o.from_given ? o.from : send_login_name() + "@" + send_host_name();
  if (from.size() >= 2 && from.front() == '<' && from.back() == '>')
    from = from.substr(1, from.size() - 2);
  bool utf8 = false;
  if (from.empty()) {
    job.message.sender.null = true;
  } else {
    auto m = smtp::parse_mailbox(from);
    if (!m) {
      std::cerr << "taube send: --from " << from << ": not an address (local@domain)\n";
      return send_exit::kUsage;
    }
    job.message.sender.mailbox = *m;
  }
  for (auto to : o.to) {
    if (to.size() >= 2 && to.front() == '<' && to.back() == '>') to = to.substr(1, to.size() - 2);
    auto m = smtp::parse_mailbox(to);
    if (!m || m->domain.empty()) {
      std::cerr << "taube send: --to " << to << ": not an address (local@domain)\n";
      return send_exit::kUsage;
    }
    job.message.recipients.push_back({*m, {}});
  }
  for (const auto& a : o.to)
    if (std::any_of(a.begin(), a.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
      utf8 = true;
  if (std::any_of(from.begin(), from.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
    utf8 = true;
  job.message.params.smtputf8 = utf8;  // RFC 6531: non-ASCII addresses

  // The message.
  ComposeInput in;
  in.from = from.empty() ? "<>" : from;
  for (const auto& r : job.message.recipients) in.to.push_back(r.mailbox.to_string());
  in.subject = o.subject;
  for (const auto& h : o.headers) {
    auto name = check_header(h);
    if (!name) {
      std::cerr << "taube send: --header: " << name.error() << "\n";
      return send_exit::kUsage;
    }
    const std::string lower = smtp::ascii_lower(*name);
    if (!o.attach.empty() && (lower == "content-type" || lower == "content-transfer-encoding")) {
      std::cerr << "taube send: --header " << *name << " cannot be combined with --attach\n";
      return send_exit::kUsage;
    }
    in.headers.push_back(h);
  }
  if (o.body.empty()) {
    in.body = "This is a test mailing\n";  // swaks's default body
  } else if (!read_send_input(o.body, in.body)) {
    std::cerr << "taube send: cannot read --body " << o.body << "\n";
    return send_exit::kNoInput;
  }
  for (const auto& path : o.attach) {
    Attachment a;
    if (!read_send_input(path, a.data)) {
      std::cerr << "taube send: cannot read --attach " << path << "\n";
      return send_exit::kNoInput;
    }
    a.filename = path.substr(path.find_last_of('/') + 1);
    a.content_type = content_type_for(path);
    in.attachments.push_back(std::move(a));
  }
  const std::time_t now = std::time(nullptr);
  const std::string self = o.helo.empty() ? send_host_name() : o.helo;
  in.date = now_date(now);
  in.message_id = "<" + std::to_string(now) + "." + random_hex(16) + "@" + self + ">";
  // RFC 2046 §5.1.1: the boundary must not occur in the parts; base64 has no '=' run or '_'
  // but at its end, and a text part containing this random string is not a practical worry.
  in.boundary = "=_taube_" + random_hex(24);
  job.content = compose_message(in);
  job.message.params.size = job.content.size();

  // Where to.
  const TlsMode mode = o.tls        ? TlsMode::Implicit
                       : o.starttls ? TlsMode::StartTls
                       : o.no_tls   ? TlsMode::None
                                    : TlsMode::Opportunistic;
  if (o.server.empty()) {
    job.hop.mx = true;
    job.hop.host = job.message.recipients.front().mailbox.domain;
    job.hop.port = o.port ? o.port : mode == TlsMode::Implicit ? 465 : 25;
    if (!job.hop.host.empty() && job.hop.host.front() == '[') {  // an address literal
      job.hop.mx = false;
      job.hop.host = job.hop.host.substr(1, job.hop.host.size() - 2);
      if (job.hop.host.rfind("IPv6:", 0) == 0) job.hop.host = job.hop.host.substr(5);
    }
  } else {
    std::string spec = o.server;
    // parse_smarthost defaults to port 25; --tls means 465 (RFC 8314 §7.3) unless a port is given.
    auto hop = queue::parse_smarthost(spec, queue::TlsUse::Opportunistic);
    if (!hop) {
      std::cerr << "taube send: --server " << spec << ": " << hop.error() << "\n";
      return send_exit::kUsage;
    }
    job.hop = *hop;
    const bool port_given = spec.find("]:") != std::string::npos ||
                            (spec.front() != '[' && std::count(spec.begin(), spec.end(), ':') == 1);
    if (!port_given) job.hop.port = o.port ? o.port : mode == TlsMode::Implicit ? 465 : 25;
  }
  job.client.helo_name = self;
  job.client.use_bdat = o.bdat;
  switch (mode) {
    case TlsMode::Opportunistic:
      job.client.tls = smtp::client::TlsPolicy::Opportunistic;
      break;
    case TlsMode::StartTls:
      job.client.tls = smtp::client::TlsPolicy::Required;
      break;
    case TlsMode::Implicit:
      job.client.tls = smtp::client::TlsPolicy::Required;
      job.client.tls_active = true;
      break;
    case TlsMode::None:
      job.client.tls = smtp::client::TlsPolicy::None;
      break;
  }
  const auto each = std::chrono::seconds(std::max<long>(1, std::lround(o.timeout)));
  auto& t = job.client.timeouts;
  t.greeting = t.helo = t.starttls = t.auth = t.mail = t.rcpt = t.data = t.block = t.final_dot =
      t.rset = t.quit = each;
  static crypto::OpenSslSasl sasl_crypto;
  job.client.sasl_crypto = &sasl_crypto;
  if (!o.auth_user.empty()) {
    std::string error;
    auto pw = send_password(o.auth_user, o.password_file, error);
    if (!pw) {
      std::cerr << "taube send: " << error << "\n";
      return o.password_file.empty() ? send_exit::kUsage : send_exit::kNoInput;
    }
    job.client.credentials = sasl::ClientCredentials{"", o.auth_user, *pw};
    job.client.plaintext_auth = o.plaintext_auth;
  }

  asio::io_context io(1);
  if (job.hop.mx) {
    net::ResolverOptions ro;
    ro.servers = o.dns_servers;
    ro.query_timeout = std::chrono::milliseconds(std::llround(std::min(o.timeout, 30.0) * 1000));
    auto r = net::Resolver::create(io, ro);
    if (!r) {
      std::cerr << "taube send: " << r.error() << "\n";
      return send_exit::kSoftware;
    }
    job.resolver = std::move(*r);
  }
  bool crashed = false;
  asio::co_spawn(io, deliver(io, job), [&](std::exception_ptr e) {
    if (e) crashed = true;
  });
  io.run();
  job.resolver.reset();  // its descriptor belongs to `io`, which goes first
  if (crashed) {
    std::cerr << "taube send: internal error\n";
    return send_exit::kSoftware;
  }
  return job.result;
}

}  // namespace

std::optional<int> run_send_if_asked(CLI::App& app, int argc, char** argv) {
  // The listing in `taube --help`; the command's own parser below does the work.
  app.add_subcommand("send", "Send a message with SMTP, like swaks (taube send --help)")
      ->allow_extras();
  if (argc < 2 || std::string_view(argv[1]) != "send") return std::nullopt;
  CLI::App cmd{
      "taube send: compose a message and deliver it with SMTP (docs/send.md).\n"
      "Exit codes (sysexits): 0 delivered, 64 usage, 66 unreadable input, 69 refused, "
      "75 deferred, 77 AUTH refused, 70 internal error.",
      "taube send"};
  SendOptions o;
  declare(cmd, o);
  try {
    cmd.parse(argc - 1, argv + 1);
  } catch (const CLI::CallForHelp& e) {
    return cmd.exit(e);
  } catch (const CLI::ParseError& e) {
    cmd.exit(e);
    return send_exit::kUsage;
  }
  o.from_given = cmd.count("--from") > 0;
  return run_send(o);
}

}  // namespace taube::app
