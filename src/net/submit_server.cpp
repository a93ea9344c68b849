#include "net/submit_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/inbound_connection.hpp"
#include "net/transport.hpp"
#include "net/unix_acceptor.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

SubmitServer::SubmitServer(asio::io_context& io, std::string path,
                           const std::shared_ptr<const ConnectionContext>& current,
                           policy::ConnectionLimiter& limiter)
    : io_(io), path_(std::move(path)), current_(current), limiter_(limiter) {
  listener_.address = path_;
  listener_.port = 0;
  listener_.tls = TlsMode::None;  // nothing to protect on a local socket
  listener_.auth = false;         // the kernel's peer credentials say who it is
  listener_.submission = false;
  listener_.local_submission = true;
}

SubmitServer::~SubmitServer() {
  close();
}

tl::expected<void, std::string> SubmitServer::open() {
  // Every local user may submit, as with Postfix's maildrop.
  auto a = open_unix_acceptor(io_, path_, "submit socket", 0666,
                              asio::socket_base::max_listen_connections);
  if (!a) return tl::unexpected(a.error());
  acceptor_ = std::move(*a);
  spdlog::info("local submission on {}", path_);
  return {};
}

void SubmitServer::start() {
  if (!acceptor_) return;
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void SubmitServer::close() {
  if (closing_) return;
  closing_ = true;
  if (acceptor_) {
    asio::error_code ec;
    acceptor_->close(ec);
    ::unlink(path_.c_str());
  }
}

asio::awaitable<void> SubmitServer::accept_loop() {
  while (!closing_ && !current_->stopping) {
    auto [ec, sock] = co_await acceptor_->async_accept(as_tuple(use_awaitable));
    if (ec) {
      if (closing_ || current_->stopping || ec == asio::error::operation_aborted) break;
      continue;
    }
    // GCC 12: no by-value coroutine parameters of non-trivial types (src/net/transport.hpp).
    auto entry = [this, s = std::make_unique<Socket>(std::move(
                            sock))]() mutable -> asio::awaitable<void> { co_await serve(s); };
    asio::co_spawn(io_, std::move(entry), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("local submission failed: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> SubmitServer::serve(std::unique_ptr<Socket>& sock) {
  // man 7 unix: SO_PEERCRED gives the credentials the peer had at connect(); not forgeable.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock->native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    spdlog::error("local submission: no peer credentials: {}", std::strerror(errno));
    co_return;
  }
  // The client address that policy sees is loopback; relaying is allowed by the listener's
  // local_submission, not by the address (a relay network need not include loopback).
  const inet::IpAddress client = inet::IpAddress::from_v4({127, 0, 0, 1});
  events::Peer peer{"127.0.0.1", "localhost", 0, path_};
  peer.uid = static_cast<std::int64_t>(cred.uid);
  peer.pid = static_cast<std::int64_t>(cred.pid);
  // The server's connection limit counts local sessions too (a local user must not starve the
  // listeners); every admitted session is released, however it ends.
  const bool admitted = limiter_.admit(client) == policy::Admission::Admitted;
  std::unique_ptr<policy::ConnectionLimiter, std::function<void(policy::ConnectionLimiter*)>>
      release(admitted ? &limiter_ : nullptr,
              [client](policy::ConnectionLimiter* l) { l->release(client); });
  // The configuration in force now, kept for the whole session (a reload affects the next).
  const std::shared_ptr<const ConnectionContext> held = current_;
  const ConnectionContext& ctx = *held;
  auto transport = std::make_unique<Transport>(std::move(*sock));
  auto conn =
      std::make_unique<InboundConnection>(ctx, listener_, std::move(transport), client, peer);
  if (!admitted) {
    ctx.observer.refused(
        {peer, "too many connections (local submission)",
         smtp::make_reply(smtp::ReplyId::TooManyConnections, ctx.config.session.hostname)});
    conn->refuse(smtp::ReplyId::TooManyConnections);
  } else if (ctx.stopping) {
    conn->refuse(smtp::ReplyId::ShuttingDown);
  }
  co_await conn->run();
}

}  // namespace taube::net
