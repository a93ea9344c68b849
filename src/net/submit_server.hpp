// SubmitServer: the local submission socket of `taube sendmail` (docs/sendmail.md). A unix
// stream socket, mode 0666 like Postfix's world-writable maildrop: every local user may submit.
// On it the server runs its ordinary SMTP session (InboundConnection) with the trust of a local
// submission, as Postfix's pickup gives mail from its sendmail command:
//   - relaying is allowed without AUTH (the user is known: the kernel says who connected);
//   - no TLS, no AUTH offered, no pregreet wait; the server's total connection limit applies
//     (the client is loopback for the limiter: exempt from the per-client limit by default);
//   - the client is the peer's user id (SO_PEERCRED, man 7 unix), not an address: logged as
//     Postfix's pickup does ("QUEUEID: uid=1000 from=<user@host>") and put in the Received
//     header ("by host (Taube, from userid 1000)").
// The uid cannot be forged: the kernel records it at connect(). Who may reach the socket at
// all is its directory's mode.
#pragma once

#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <tl/expected.hpp>

#include "net/connection_context.hpp"
#include "policy/connect_policy.hpp"

namespace taube::net {

class SubmitServer {
 public:
  // `current`: the server's context of the configuration in force (SIGHUP replaces it); each
  // session holds the one it started with, as a listener's connections do.
  SubmitServer(asio::io_context& io, std::string path,
               const std::shared_ptr<const ConnectionContext>& current,
               policy::ConnectionLimiter& limiter);
  ~SubmitServer();
  // Binds the socket (a stale one left by a crash is replaced, a live one is an error) and
  // makes it world-writable.
  tl::expected<void, std::string> open();
  void start();
  // No new submissions; sessions in progress end with the server's other connections.
  void close();
  const std::string& path() const { return path_; }

 private:
  using Socket = asio::local::stream_protocol::socket;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::unique_ptr<Socket>& sock);

  asio::io_context& io_;
  std::string path_;
  const std::shared_ptr<const ConnectionContext>& current_;
  policy::ConnectionLimiter& limiter_;
  ListenerConfig listener_;  // what channel policy sees: no TLS, no AUTH, local submission
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
  bool closing_ = false;
};

}  // namespace taube::net
