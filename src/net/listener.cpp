#include "net/listener.hpp"

#include <chrono>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "net/inbound_connection.hpp"
#include "net/transport.hpp"
#include "proxy/proxy_parser.hpp"

#include <spdlog/spdlog.h>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

namespace {

// The client's address as accept() reported it (no getpeername per connection); an IPv4 client
// on a dual-stack socket is shown as IPv4.
inet::IpAddress to_inet(const asio::ip::address& a) {
  if (a.is_v4()) return inet::IpAddress::from_v4(a.to_v4().to_bytes());
  return inet::IpAddress::from_v6(a.to_v6().to_bytes()).unmapped();
}

std::string show(const asio::ip::tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

Listener::Listener(asio::io_context& io, const ListenerConfig& config,
                   const std::shared_ptr<const ConnectionContext>& current,
                   policy::ConnectionLimiter& limiter)
    : io_(io), cfg_(config), current_(current), limiter_(limiter) {}

tl::expected<asio::ip::tcp::endpoint, std::string> Listener::bind() {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(cfg_.address, ec);
  if (ec) return tl::unexpected("invalid listen address '" + cfg_.address + "'");
  const asio::ip::tcp::endpoint ep(addr, cfg_.port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && addr.is_v6()) acceptor_->set_option(asio::ip::v6_only(true), ec);
  // Replies are written whole, one write per burst: Nagle's algorithm would only delay them.
  // Accepted sockets inherit it from the listener on Linux.
  if (!ec) acceptor_->set_option(asio::ip::tcp::no_delay(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return tl::unexpected("cannot listen on " + cfg_.address + ":" + std::to_string(cfg_.port) +
                          ": " + ec.message());
  }
  const auto bound = acceptor_->local_endpoint(ec);
  label_ = show(bound);
  return bound;
}

void Listener::start() {
  asio::co_spawn(io_, accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("accept loop failed: {}", ex.what());
    }
  });
}

void Listener::close() {
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
}

asio::awaitable<void> Listener::accept_loop() {
  asio::steady_timer backoff(io_);
  while (!ctx().stopping) {
    asio::ip::tcp::endpoint peer;
    auto [ec, sock] = co_await acceptor_->async_accept(peer, as_tuple(use_awaitable));
    if (ec) {
      if (ctx().stopping || ec == asio::error::operation_aborted) break;
      // EMFILE and friends: wait a little rather than spin.
      ctx().observer.refused({{peer.address().to_string(), "unknown", peer.port(), label_},
                              "accept: " + ec.message(),
                              {}});
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(as_tuple(use_awaitable));
      continue;
    }
#ifndef __linux__
    sock.set_option(asio::ip::tcp::no_delay(true), ec);
#endif
    // No by-value coroutine parameters of non-trivial types: GCC 12 destroys them twice. The
    // transport lives in the lambda (kept by co_spawn until the coroutine ends).
    auto entry = [this, transport = std::make_unique<Transport>(std::move(sock)),
                  peer]() mutable -> asio::awaitable<void> { co_await serve(transport, peer); };
    asio::co_spawn(io_, std::move(entry), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("connection failed: {}", ex.what());
      }
    });
  }
}

asio::awaitable<bool> Listener::read_proxy_header(Transport& t, inet::IpAddress& client,
                                                  events::Peer& peer) {
  bool trusted = false;
  for (const auto& n : cfg_.proxy_networks) trusted = trusted || n.contains(client);
  if (!trusted) {
    ctx().observer.refused(
        {peer, "PROXY protocol header expected, but not from proxy_networks", {}});
    co_return false;
  }
  const proxy::ProxyLimits limits;
  std::vector<char> buf(limits.max_header_size());
  const auto deadline = std::chrono::steady_clock::now() + ctx().config.proxy_timeout;
  std::size_t seen = 0;
  asio::steady_timer pause(io_);
  while (true) {
    const asio::mutable_buffer room(buf.data(), buf.size());
    auto [ec, n] = co_await t.peek(room, deadline);
    if (ec) {
      ctx().observer.refused({peer, "no PROXY protocol header: " + ec.message(), {}});
      co_return false;
    }
    const auto r = proxy::parse_proxy_header(std::span<const char>(buf.data(), n), limits);
    if (r.status == proxy::ParseStatus::Invalid) {
      ctx().observer.refused({peer, "bad PROXY protocol header: " + std::string(r.error), {}});
      co_return false;
    }
    if (r.status == proxy::ParseStatus::Complete) {
      if (t.discard(r.header_size)) co_return false;
      if (r.header.command == proxy::ProxyCommand::Proxy && r.header.source) {
        client = r.header.source->unmapped();
        peer.address = client.to_string();
        peer.port = r.header.source_port;
      }
      co_return true;
    }
    // Incomplete: the header came in pieces. Readiness does not wait for *more* data, so
    // look again after a moment (rare: HAProxy writes the header in one piece).
    if (n == seen) {
      pause.expires_after(std::chrono::milliseconds(5));
      co_await pause.async_wait(as_tuple(use_awaitable));
    }
    seen = n;
    if (std::chrono::steady_clock::now() > deadline) {
      ctx().observer.refused({peer, "PROXY protocol header incomplete", {}});
      co_return false;
    }
  }
}

std::optional<smtp::ReplyId> Listener::admit(const inet::IpAddress& client,
                                             const events::Peer& peer, bool& admitted) {
  const auto admission = limiter_.admit(client);
  admitted = admission == policy::Admission::Admitted;
  std::optional<smtp::ReplyId> refuse;
  if (!admitted) {
    refuse = smtp::ReplyId::TooManyConnections;
    ctx().observer.refused({peer,
                            admission == policy::Admission::TooManyConnections
                                ? "too many connections"
                                : "too many connections from this client",
                            smtp::make_reply(*refuse, ctx().config.session.hostname)});
  } else if (ctx().stopping) {
    refuse = smtp::ReplyId::ShuttingDown;
  } else if (ctx().throttle.banned(client, std::chrono::steady_clock::now())) {
    refuse = smtp::ReplyId::AuthTooManyFailures;
    ctx().observer.refused({peer, "banned after repeated authentication failures",
                            smtp::make_reply(*refuse, ctx().config.session.hostname)});
  }
  return refuse;
}

asio::awaitable<void> Listener::serve(std::unique_ptr<Transport>& transport,
                                      const asio::ip::tcp::endpoint& ep) {
  // The configuration this connection lives with, whatever reloads happen meanwhile.
  const std::shared_ptr<const ConnectionContext> held = current_;
  inet::IpAddress client = to_inet(ep.address());
  events::Peer peer{client.to_string(), "unknown", ep.port(), label_};
  if (cfg_.proxy_protocol) {
    const bool ok = co_await read_proxy_header(*transport, client, peer);
    if (!ok) {
      transport->close();
      co_return;
    }
  }
  bool admitted = false;
  const std::optional<smtp::ReplyId> refuse = admit(client, peer, admitted);
  // Every admitted connection is released, however it ends.
  std::unique_ptr<policy::ConnectionLimiter, std::function<void(policy::ConnectionLimiter*)>>
      release(admitted ? &limiter_ : nullptr,
              [client](policy::ConnectionLimiter* l) { l->release(client); });
  // Phase 3: implicit TLS. A refused client gets its 421 over TLS too: on a TLS port a
  // plaintext reply would only be a handshake error to it.
  if (cfg_.tls == TlsMode::Implicit) {
    std::string error;
    const auto deadline = std::chrono::steady_clock::now() + ctx().config.command_timeout;
    const bool ok = co_await transport->start_tls(held->credentials.tls, deadline, error);
    if (!ok) {
      ctx().observer.tls_failed({peer, error});
      transport->close();
      co_return;
    }
    ctx().observer.tls_established({peer, transport->tls_version(), transport->tls_cipher()});
  }
  auto conn = std::make_unique<InboundConnection>(*held, cfg_, std::move(transport), client, peer);
  if (refuse) conn->refuse(*refuse);
  co_await conn->run();
}

}  // namespace taube::net
