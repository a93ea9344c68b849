#include "net/server.hpp"

#include "crypto/crypto.hpp"
#include "net/control_server.hpp"
#include "net/submit_server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "store/maildir_writer.hpp"
#include "store/spool_sink.hpp"

namespace taube::net {

namespace {

ServerConfig with_sasl(ServerConfig c, sasl::Crypto& crypto) {
  c.session.sasl_crypto = &crypto;
  // SCRAM's stand-in secrets for unknown users (RFC 5802 §5.1) are keyed per process. Without
  // a random key (the CSPRNG failed) SCRAM cannot be offered safely: the session then fails
  // every SCRAM exchange, PLAIN and LOGIN still work.
  c.session.sasl_stand_in_key = crypto::random_octets(32).value_or(std::string());
  if (c.session.sasl_stand_in_key.empty()) c.session.sasl_crypto = nullptr;
  return c;
}

}  // namespace

// One configuration generation. The policies point into the configuration and the directory
// next to them, so a generation is built in place and never moved.
struct Generation {
  Generation(ServerConfig c, policy::Directory d)
      : config(std::move(c)),
        directory(std::move(d)),
        recipients(directory, config.relay),
        policy(recipients, config.senders) {}
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  ServerConfig config;
  policy::Directory directory;
  policy::RecipientPolicy recipients;
  policy::SessionPolicy policy;
  Credentials credentials;
  std::optional<ConnectionContext> context;  // set by Server::context_of
};

Server::Server(asio::io_context& io, ServerConfig config, policy::Directory directory)
    : io_(io),
      gen_(std::make_shared<Generation>(with_sasl(std::move(config), sasl_crypto_),
                                        std::move(directory))),
      cfg_(gen_->config),
      limiter_(cfg_.connect),
      throttle_(cfg_.auth.throttle),
      store_(cfg_.session.hostname),
      pool_(cfg_.worker_threads),
      queue_store_(cfg_.outbound.queue_path),
      mailbox_sink_(cfg_.discard ? std::unique_ptr<store::MessageSink>(new store::NullSink)
                                 : std::make_unique<store::MaildirSink>(store_, nullptr)),
      queue_sink_(cfg_.discard ? std::unique_ptr<store::MessageSink>(new store::NullSink)
                               : std::make_unique<store::RelaySpoolSink>(store_, queue_store_)),
      sink_(*mailbox_sink_, queue_sink_.get()),
      grace_timer_(io) {
  if (cfg_.http) http_ = std::make_unique<HttpServer>(io_, *cfg_.http);
  if (!cfg_.discard) {
    runner_ = std::make_unique<QueueRunner>(
        io_, cfg_.outbound, cfg_.session.hostname, pool_, queue_store_, sink_,
        std::shared_ptr<const policy::RecipientPolicy>(gen_, &gen_->recipients), observers_,
        &sasl_crypto_);
    static_cast<store::RelaySpoolSink*>(queue_sink_.get())
        ->on_queued([r = runner_.get()](const std::string& name, const queue::QueueEnvelope& env,
                                        std::shared_ptr<const std::string> content) {
          r->submit(name, env, std::move(content));
        });
  }
  ctx_ = context_of(gen_);
}

std::shared_ptr<const ConnectionContext> Server::context_of(const std::shared_ptr<Generation>& g) {
  if (runner_) {
    // ETRN (RFC 1985) makes the queued mail of a domain due now. The session and the runner
    // share the event loop thread, so the call is direct.
    g->config.session.etrn_run = [this](const std::string& domain) -> std::size_t {
      return runner_ ? runner_->flush_domain(domain) : 0;
    };
  }
  g->context.emplace(ConnectionContext{g->config, g->policy, sink_, pool_, observers_, throttle_,
                                       g->credentials, registry_, stopping_});
  return std::shared_ptr<const ConnectionContext>(g, &*g->context);
}

const ServerConfig& Server::config() const {
  return gen_->config;
}

const Credentials& Server::credentials() const {
  return gen_->credentials;
}

Server::~Server() {
  pool_.join();
  // Nothing else runs now: the items still only in the queue's journal are written out as
  // files, and the envelopes of the last removals go (QueueStore::remove).
  queue_store_.close_journal();
  queue_store_.tidy(true);
}

tl::expected<void, std::string> Server::listen() {
  for (const auto& l : cfg_.listeners) {
    auto listener = std::make_unique<Listener>(io_, l, ctx_, limiter_);
    auto bound = listener->bind();
    if (!bound) return tl::unexpected(bound.error());
    endpoints_.push_back(*bound);
    const std::string shown = bound->address().is_v6() ? "[" + bound->address().to_string() + "]"
                                                       : bound->address().to_string();
    spdlog::info("listening on {}:{}{}{}", shown, bound->port(),
                 l.protocol == smtp::Dialect::Lmtp ? " (LMTP)" : "",
                 l.proxy_protocol ? " (PROXY protocol)" : "");
    listeners_.push_back(std::move(listener));
  }
  // The sendmail command's socket (docs/sendmail.md), bound with the SMTP listeners.
  if (!cfg_.submit_socket.empty()) {
    submit_ = std::make_unique<SubmitServer>(io_, cfg_.submit_socket, ctx_, limiter_);
    if (auto s = submit_->open(); !s) return s;
  }
  if (http_) {
    auto bound = http_->bind();
    if (!bound) return tl::unexpected(bound.error());
    http_endpoint_ = *bound;
    const std::string shown = bound->address().is_v6() ? "[" + bound->address().to_string() + "]"
                                                       : bound->address().to_string();
    // Not "listening on": that line names the SMTP listeners (tests and scripts read it).
    spdlog::info("metrics: serving http://{}:{}/metrics", shown, bound->port());
  }
  return {};
}

void Server::start() {
  for (auto& l : listeners_) l->start();
  if (http_) http_->start();
  if (runner_) runner_->set_self_endpoints(endpoints_);
  if (runner_) runner_->start();
  if (control_) control_->start();
  if (submit_) submit_->start();
}

tl::expected<void, std::string> Server::open_queue() {
  if (!runner_) return {};
  auto r = Resolver::create(io_, cfg_.outbound.dns_servers);
  if (r) {
    resolver_ = std::move(*r);
    runner_->set_resolver(resolver_.get());
  } else {
    // Mail by MX then waits in the queue (deferred, 4.4.3); fixed routes still work.
    spdlog::error("DNS resolver: {}; mail to MX destinations stays queued", r.error());
  }
  if (auto o = runner_->open(); !o) return o;
  if (!cfg_.outbound.control_socket.empty()) {
    control_ = std::make_unique<ControlServer>(io_, pool_, cfg_.outbound.control_socket, *runner_);
    if (auto c = control_->open(); !c) return c;
  }
  return {};
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (control_) control_->close();
  if (submit_) submit_->close();
  const auto grace = gen_->config.shutdown_grace;
  if (runner_) runner_->stop(grace);
  if (resolver_) resolver_->cancel_all();
  spdlog::info("shutting down: {} connection(s) open", registry_.size());
  for (auto& l : listeners_) l->close();
  registry_.interrupt_all();
  // The HTTP listener stays while SMTP connections drain (/healthz says 503, /metrics shows
  // the drain), and goes with the last of them or at the end of the grace period.
  if (registry_.size() == 0) {
    if (http_) http_->stop();
    return;
  }
  registry_.on_empty([this] {
    grace_timer_.cancel();
    if (http_) http_->stop();
  });
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    if (registry_.size() > 0)
      spdlog::warn("grace period over: closing {} connection(s)", registry_.size());
    registry_.close_all();
    if (http_) http_->stop();
  });
}

void Server::clean_maildirs() {
  // Maildirs live at <root>/<domain>/<local>/ by default, plus any configured per-user path.
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  std::error_code ec;
  const auto& dir = gen_->directory;
  const fs::path root = dir.config().mail_root;
  for (const auto& d : fs::directory_iterator(root, ec)) {
    if (!d.is_directory(ec)) continue;
    for (const auto& u : fs::directory_iterator(d.path(), ec))
      if (fs::is_directory(u.path() / "tmp", ec)) dirs.push_back(u.path().string());
  }
  for (const auto& [user, path] : dir.config().users)
    if (!path.empty()) dirs.push_back(path);
  const std::time_t now = std::time(nullptr);
  std::size_t removed = 0;
  for (const auto& d : dirs) removed += store_.clean_tmp(d, now, true);
  if (removed > 0) spdlog::info("removed {} stale file(s) from Maildir tmp/ directories", removed);
}

tl::expected<void, std::string> Server::open_journal() {
  if (cfg_.journal_path.empty() || cfg_.discard || journal_) return {};
  std::error_code ec;
  const bool existed = std::filesystem::exists(cfg_.journal_path, ec);
  auto j = store::DeliveryJournal::open(store::posix_fs(), cfg_.journal_path, cfg_.journal_size);
  if (!j && !existed) {
    // No journal yet and none can be made (disk full, read-only): every message is fsynced into
    // its Maildir directly, which is slower but just as safe. An existing journal that cannot
    // be read is another matter (it may hold mail): below, the server refuses to start.
    spdlog::warn("cannot create the delivery journal {}: {}; delivering without it",
                 cfg_.journal_path, store::to_string(j.error()));
    return {};
  }
  if (!j) {
    return tl::unexpected("cannot open the delivery journal " + cfg_.journal_path + ": " +
                          store::to_string(j.error()));
  }
  auto jd = std::make_unique<store::JournaledDelivery>(store_, std::move(*j));
  jd->set_logger([](const std::string& m) { spdlog::warn("{}", m); });
  // Each message between its 250 and its batch holds a descriptor: leave most of them to the
  // connections.
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    jd->set_max_outstanding(std::clamp<std::size_t>(nofile.rlim_cur / 4, 16,
                                                    store::JournaledDelivery::kMaxOutstanding));
  }
  const std::string rescue = cfg_.journal_path + ".rescue";
  auto r = jd->recover(rescue);
  if (!r) {
    return tl::unexpected("cannot deliver the messages left in the delivery journal " +
                          cfg_.journal_path + ": " + store::to_string(r.error()));
  }
  if (r->delivered + r->present + r->rescued > 0) {
    spdlog::info(
        "delivery journal: {} message(s) delivered after a restart, {} already there, {} "
        "kept in {}",
        r->delivered, r->present, r->rescued, rescue);
  }
  jd->start();
  journal_ = std::move(jd);
  static_cast<store::MaildirSink*>(mailbox_sink_.get())->set_journal(journal_.get());
  return {};
}

tl::expected<Credentials, std::string> Server::read_credentials(const ServerConfig& cfg) const {
  Credentials c;
  if (cfg.tls) {
    auto ctx = make_tls_context(*cfg.tls);
    if (!ctx) return tl::unexpected(ctx.error());
    c.tls = std::move(*ctx);
  }
  for (const auto& l : cfg.listeners) {
    if (l.tls == TlsMode::Implicit && !c.tls)
      return tl::unexpected("listener " + l.address + ":" + std::to_string(l.port) +
                            ": implicit TLS needs [tls] certificate and key");
  }
  if (!cfg.auth.users_file.empty()) {
    auto db = store::UserDb::load(cfg.auth.users_file);
    if (!db) return tl::unexpected(db.error());
    c.users = std::make_shared<const store::UserDb>(std::move(*db));
  }
  return c;
}

tl::expected<void, std::string> Server::load_credentials() {
  auto c = read_credentials(gen_->config);
  if (!c) return tl::unexpected(c.error());
  gen_->credentials = std::move(*c);
  return {};
}

tl::expected<void, std::string> Server::reload(ServerConfig config, policy::Directory directory) {
  // The same SCRAM stand-in key as before: an unknown user's fake salt must not change.
  config.session.sasl_crypto = gen_->config.session.sasl_crypto;
  config.session.sasl_stand_in_key = gen_->config.session.sasl_stand_in_key;
  auto creds = read_credentials(config);
  if (!creds) return tl::unexpected(creds.error());
  auto next = std::make_shared<Generation>(std::move(config), std::move(directory));
  next->credentials = std::move(*creds);
  ctx_ = context_of(next);
  gen_ = std::move(next);
  limiter_.set_rules(gen_->config.connect);
  throttle_.set_rules(gen_->config.auth.throttle);
  if (runner_)
    runner_->reconfigure(gen_->config.outbound,
                         std::shared_ptr<const policy::RecipientPolicy>(gen_, &gen_->recipients));
  return {};
}

}  // namespace taube::net
