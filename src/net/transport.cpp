#include "net/transport.hpp"

#include <tuple>
#include <variant>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

Transport::Transport(asio::ip::tcp::socket socket)
    : sock_(std::move(socket)), timer_(sock_.get_executor()) {}

Transport::Transport(asio::local::stream_protocol::socket socket)
    : sock_(std::move(socket)), timer_(sock_.get_executor()) {}

Transport::~Transport() {
  timer_.cancel();
}

Transport::Socket& Transport::socket() {
  return tls_ ? tls_->next_layer() : sock_;
}

void Transport::arm(Clock::time_point deadline) {
  timed_out_ = false;
  timer_.expires_at(deadline);
  timer_.async_wait([this, gen = ++generation_](const asio::error_code& ec) {
    if (ec) return;  // cancelled (also when the transport is gone): `this` is not touched
    if (gen != generation_) return;
    timed_out_ = true;
    asio::error_code ignored;
    socket().cancel(ignored);
  });
}

void Transport::disarm() {
  ++generation_;
  timer_.cancel();
}

asio::awaitable<std::pair<std::error_code, std::size_t>> Transport::read_some(
    asio::mutable_buffer b, Clock::time_point deadline) {
  arm(deadline);
  asio::error_code ec;
  std::size_t n = 0;
  // (No co_await inside ?: anywhere in the net layer: GCC 12 miscompiles it, running the
  // wrong arm.)
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(b, as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await sock_.async_read_some(b, as_tuple(use_awaitable));
  }
  disarm();
  co_return std::pair<std::error_code, std::size_t>{ec, n};
}

asio::awaitable<std::error_code> Transport::write_all(asio::const_buffer b,
                                                      Clock::time_point deadline) {
  arm(deadline);
  asio::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await asio::async_write(*tls_, b, as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await asio::async_write(sock_, b, as_tuple(use_awaitable));
  }
  (void)n;
  disarm();
  co_return ec;
}

asio::awaitable<std::pair<std::error_code, std::size_t>> Transport::peek(
    asio::mutable_buffer b, Clock::time_point deadline) {
  arm(deadline);
  auto [ec] = co_await sock_.async_wait(asio::socket_base::wait_read, as_tuple(use_awaitable));
  disarm();
  if (ec) co_return std::pair<std::error_code, std::size_t>{ec, 0};
  const std::size_t n = sock_.receive(b, asio::socket_base::message_peek, ec);
  if (!ec && n == 0) ec = asio::error::eof;
  co_return std::pair<std::error_code, std::size_t>{ec, n};
}

std::error_code Transport::discard(std::size_t n) {
  std::string sink(n, '\0');
  asio::error_code ec;
  asio::read(sock_, asio::buffer(sink), ec);  // the octets were seen: no wait
  return ec;
}

asio::awaitable<bool> Transport::readable_within(std::chrono::milliseconds wait) {
  char probe[1];
  timer_.expires_after(wait);
  std::variant<std::tuple<asio::error_code, std::size_t>, std::tuple<asio::error_code>> r;
  if (tls_) {
    r = co_await (tls_->async_read_some(asio::buffer(probe), as_tuple(use_awaitable)) ||
                  timer_.async_wait(as_tuple(use_awaitable)));
  } else {
    r = co_await (sock_.async_read_some(asio::buffer(probe), as_tuple(use_awaitable)) ||
                  timer_.async_wait(as_tuple(use_awaitable)));
  }
  // Data (or a closed connection) before the timer means the client did not wait.
  co_return r.index() == 0;
}

asio::awaitable<bool> Transport::start_tls(const std::shared_ptr<asio::ssl::context>& ctx,
                                           Clock::time_point deadline, std::string& error) {
  const std::string no_name;
  const auto role = asio::ssl::stream_base::server;
  co_return co_await handshake(ctx, role, no_name, deadline, error);
}

asio::awaitable<bool> Transport::start_tls_client(const std::shared_ptr<asio::ssl::context>& ctx,
                                                  const std::string& server_name,
                                                  Clock::time_point deadline, std::string& error) {
  const auto role = asio::ssl::stream_base::client;
  co_return co_await handshake(ctx, role, server_name, deadline, error);
}

asio::awaitable<bool> Transport::handshake(const std::shared_ptr<asio::ssl::context>& ctx,
                                           asio::ssl::stream_base::handshake_type role,
                                           const std::string& server_name,
                                           Clock::time_point deadline, std::string& error) {
  if (!ctx) {
    error = "no TLS context";
    co_return false;
  }
  tls_ctx_ = ctx;
  tls_ = std::make_unique<asio::ssl::stream<Socket>>(std::move(sock_), *tls_ctx_);
  if (role == asio::ssl::stream_base::client && !server_name.empty()) {
    // RFC 6066 §3: SNI carries a host name, never an address literal.
    asio::error_code parse_ec;
    asio::ip::make_address(server_name, parse_ec);
    // SSL_set_tlsext_host_name() without its C cast.
    if (parse_ec)
      SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(server_name.c_str()));
  }
  arm(deadline);
  auto [ec] = co_await tls_->async_handshake(role, as_tuple(use_awaitable));
  disarm();
  if (timed_out_) {
    error = "timeout";
    co_return false;
  }
  if (ec) {
    error = ec.message();
    co_return false;
  }
  co_return true;
}

std::string Transport::tls_version() const {
  return tls_ ? SSL_get_version(tls_->native_handle()) : "";
}

std::string Transport::tls_cipher() const {
  return tls_ ? SSL_get_cipher_name(tls_->native_handle()) : "";
}

std::string Transport::tls_description() const {
  return tls_ ? tls_version() + " with cipher " + tls_cipher() : "";
}

asio::awaitable<void> Transport::shutdown(bool unread_input) {
  asio::error_code ec;
  if (tls_) {
    // RFC 8446 §6.1: send close_notify before closing; wait briefly for the peer's.
    timer_.expires_after(std::chrono::seconds(2));
    co_await (tls_->async_shutdown(as_tuple(use_awaitable)) ||
              timer_.async_wait(as_tuple(use_awaitable)));
  } else if (unread_input || sock_.available(ec) > 0) {
    // Closing with unread input makes the kernel send RST, which can destroy replies still in
    // flight (the 421 after a flood of pipelined commands). Half-close, then read and discard
    // what the client still sends, for a short while, before closing.
    sock_.shutdown(asio::socket_base::shutdown_send, ec);
    std::unique_ptr<char[]> buf(new char[4096]);
    arm(Clock::now() + std::chrono::seconds(2));
    for (int i = 0; i < 1024; ++i) {
      auto [rec, rn] =
          co_await sock_.async_read_some(asio::buffer(buf.get(), 4096), as_tuple(use_awaitable));
      if (rec) break;
    }
    disarm();
  }
  close();
}

void Transport::cancel() {
  asio::error_code ec;
  socket().cancel(ec);
}

void Transport::close() {
  asio::error_code ec;
  socket().close(ec);
  timer_.cancel();
}

}  // namespace taube::net
