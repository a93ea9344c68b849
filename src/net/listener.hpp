// Listener: one listening socket and the phases every connection passes before its session:
//   1. PROXY   (when the listener has proxy_protocol): the header is read exactly, only from
//              proxy_networks; its source address is the client from then on (admission, bans,
//              relay policy, Received and logs all see it). LOCAL (health checks) keeps the
//              socket's address. A missing, malformed or untrusted header closes the connection.
//   2. admission: connection limits (total and per client, with exemptions), the AUTH ban,
//              shutdown. A refused client is told so with a 421 by its session.
//   3. implicit TLS (RFC 8314 §3): the handshake before the greeting.
// Then an InboundConnection runs the session.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <tl/expected.hpp>

#include "net/connection_context.hpp"
#include "policy/connect_policy.hpp"

namespace taube::net {

class Transport;

class Listener {
 public:
  // `current`: the server's configuration generation in force (replaced by a reload). Each
  // connection takes the one current when it is accepted and keeps it to its end.
  Listener(asio::io_context& io, const ListenerConfig& config,
           const std::shared_ptr<const ConnectionContext>& current,
           policy::ConnectionLimiter& limiter);

  // Binds and listens; returns the bound endpoint (the real port for port 0).
  tl::expected<asio::ip::tcp::endpoint, std::string> bind();
  void start();
  void close();
  const ListenerConfig& config() const { return cfg_; }

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::unique_ptr<Transport>& transport,
                              const asio::ip::tcp::endpoint& peer);
  // Phase 2: the 421 to refuse the client with, if any (reported).
  std::optional<smtp::ReplyId> admit(const inet::IpAddress& client, const events::Peer& peer,
                                     bool& admitted);
  // Phase 1. False: refused (already reported; the caller closes).
  asio::awaitable<bool> read_proxy_header(Transport& t, inet::IpAddress& client,
                                          events::Peer& peer);

  const ConnectionContext& ctx() const { return *current_; }

  asio::io_context& io_;
  const ListenerConfig cfg_;  // fixed while the socket is bound (a reload keeps the listeners)
  const std::shared_ptr<const ConnectionContext>& current_;
  policy::ConnectionLimiter& limiter_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::string label_;  // "127.0.0.1:2525"
};

}  // namespace taube::net
