#include "net/server.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/use_awaitable.hpp>

#include "net/connection.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

Server::Server(asio::io_context& io, ServerConfig config, store::Directory directory)
    : io_(io),
      cfg_(std::move(config)),
      dir_(std::move(directory)),
      store_(cfg_.session.hostname),
      pool_(cfg_.worker_threads),
      throttle_(cfg_.auth),
      grace_timer_(io) {}

Server::~Server() {
  pool_.join();
}

tl::expected<void, std::string> Server::listen() {
  for (const auto& l : cfg_.listeners) {
    asio::error_code ec;
    const auto addr = asio::ip::make_address(l.address, ec);
    if (ec) return tl::unexpected("invalid listen address '" + l.address + "'");
    const asio::ip::tcp::endpoint ep(addr, l.port);
    auto acc = std::make_unique<asio::ip::tcp::acceptor>(io_);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
    // Replies are written whole, one write per burst: Nagle's algorithm would only delay them.
    // Accepted sockets inherit it from the listener on Linux.
    if (!ec) acc->set_option(asio::ip::tcp::no_delay(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return tl::unexpected("cannot listen on " + l.address + ":" + std::to_string(l.port) + ": " +
                            ec.message());
    }
    const auto bound = acc->local_endpoint(ec);
    endpoints_.push_back(bound);
    const std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                      : bound.address().to_string();
    spdlog::info("listening on {}:{}", shown, bound.port());
    acceptors_.push_back(std::move(acc));
    acceptor_listeners_.push_back(&l);
  }
  return {};
}

void Server::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    asio::co_spawn(io_, accept_loop(*acceptors_[i], *acceptor_listeners_[i]),
                   [](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         spdlog::critical("accept loop failed: {}", ex.what());
                       }
                     }
                   });
  }
}

asio::awaitable<void> Server::accept_loop(asio::ip::tcp::acceptor& acceptor,
                                          const ListenerConfig& listener) {
  asio::steady_timer backoff(io_);
  while (!stopping_) {
    asio::ip::tcp::endpoint peer;
    auto [ec, sock] = co_await acceptor.async_accept(peer, as_tuple(use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      // EMFILE and friends: wait a little rather than spin.
      spdlog::warn("accept: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(as_tuple(use_awaitable));
      continue;
    }
    auto conn = std::make_shared<Connection>(*this, listener, std::move(sock), peer);
    asio::co_spawn(
        io_, [conn]() -> asio::awaitable<void> { co_await conn->run(); },
        [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("connection failed: {}", ex.what());
          }
        });
  }
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("shutting down: {} connection(s) open", connections_.size());
  for (auto& acc : acceptors_) {
    asio::error_code ec;
    acc->close(ec);
  }
  for (Connection* c : connections_) c->interrupt();
  if (connections_.empty()) return;
  grace_timer_.expires_after(cfg_.shutdown_grace);
  grace_timer_.async_wait([this](asio::error_code ec) {
    if (ec) return;
    if (!connections_.empty())
      spdlog::warn("grace period over: closing {} connection(s)", connections_.size());
    // Copy: force_close may let coroutines finish and withdraw while we iterate.
    std::vector<Connection*> all(connections_.begin(), connections_.end());
    for (Connection* c : all) c->force_close();
  });
}

bool Server::admit(const std::string& ip) {
  if (total_ >= cfg_.max_connections) return false;
  auto& n = per_ip_[ip];
  if (n >= cfg_.max_connections_per_ip) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void Server::release(const std::string& ip) {
  --total_;
  auto it = per_ip_.find(ip);
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

std::list<Connection*>::iterator Server::enroll(Connection* c) {
  return connections_.insert(connections_.end(), c);
}

void Server::withdraw(std::list<Connection*>::iterator it) {
  connections_.erase(it);
  if (stopping_ && connections_.empty()) grace_timer_.cancel();
}

void Server::clean_maildirs() {
  // Maildirs live at <root>/<domain>/<local>/ by default, plus any configured per-user path.
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  std::error_code ec;
  const fs::path root = dir_.config().mail_root;
  for (const auto& d : fs::directory_iterator(root, ec)) {
    if (!d.is_directory(ec)) continue;
    for (const auto& u : fs::directory_iterator(d.path(), ec))
      if (fs::is_directory(u.path() / "tmp", ec)) dirs.push_back(u.path().string());
  }
  for (const auto& [user, path] : dir_.config().users)
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
  return {};
}

}  // namespace taube::net

namespace taube::net {

tl::expected<void, std::string> Server::load_credentials() {
  if (cfg_.tls) {
    auto ctx = make_tls_context(*cfg_.tls);
    if (!ctx) return tl::unexpected(ctx.error());
    tls_ctx_ = std::move(*ctx);
  }
  for (const auto& l : cfg_.listeners) {
    if (l.tls == TlsMode::Implicit && !tls_ctx_)
      return tl::unexpected("listener " + l.address + ":" + std::to_string(l.port) +
                            ": implicit TLS needs [tls] certificate and key");
  }
  if (!cfg_.auth.users_file.empty()) {
    auto db = store::UserDb::load(cfg_.auth.users_file);
    if (!db) return tl::unexpected(db.error());
    users_ = std::make_shared<const store::UserDb>(std::move(*db));
  }
  return {};
}

bool Server::relay_allowed_from(const asio::ip::address& a) const {
  for (const auto& n : cfg_.relay.networks)
    if (n.contains(a)) return true;
  return false;
}

bool AuthThrottle::failure(const std::string& ip, Clock::time_point now) {
  auto& e = entries_[ip];
  std::erase_if(e.failures, [&](auto t) { return now - t > cfg_.window; });
  e.failures.push_back(now);
  if (e.failures.size() >= cfg_.max_failures) {
    e.banned_until = now + cfg_.ban;
    e.failures.clear();
    return true;
  }
  return false;
}

bool AuthThrottle::banned(const std::string& ip, Clock::time_point now) {
  auto it = entries_.find(ip);
  if (it == entries_.end()) return false;
  if (it->second.banned_until > now) return true;
  if (it->second.failures.empty()) entries_.erase(it);
  return false;
}

}  // namespace taube::net
