// Transport: one stream connection, plain or TLS (STARTTLS swaps the stream and keeps the socket),
// with deadline-guarded reads and writes and the polite close. Knows nothing of SMTP. The socket
// is a generic stream socket: TCP (listeners, the queue) or a unix stream socket (LMTP to a local
// mail store, Dovecot's lmtp listener); the operations are the same system calls.
//
// GCC 12 and coroutines, two rules for the whole net layer: no by-value parameters of
// non-trivial types (they are destroyed twice), and no computed temporaries as arguments of a
// co_await'ed call (`co_await f(a < b)` resumed the caller's frame 8 octets off: SIGILL/SIGSEGV);
// pass named variables.
//
// Deadlines: each operation takes an absolute deadline; one steady_timer with a plain completion
// handler cancels the socket's operations when it expires (no awaitable-operator frames per
// read: less memory per idle connection). A generation counter keeps a deadline that fired just
// as its operation completed from cancelling the next one.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

namespace taube::net {

class Transport {
 public:
  using Clock = std::chrono::steady_clock;

  using Socket = asio::generic::stream_protocol::socket;

  explicit Transport(asio::ip::tcp::socket socket);
  explicit Transport(asio::local::stream_protocol::socket socket);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Reads what is there (at least one octet). n == 0 with an error on EOF, failure, timeout or
  // cancel(); timed_out() says which.
  asio::awaitable<std::pair<std::error_code, std::size_t>> read_some(asio::mutable_buffer b,
                                                                     Clock::time_point deadline);
  // Writes everything.
  asio::awaitable<std::error_code> write_all(asio::const_buffer b, Clock::time_point deadline);
  // Looks at what the client sent without consuming it (plain connections only): the PROXY
  // header must be read exactly, since the client's TLS hello may follow in the same segment.
  asio::awaitable<std::pair<std::error_code, std::size_t>> peek(asio::mutable_buffer b,
                                                                Clock::time_point deadline);
  // Consumes exactly `n` octets already seen with peek().
  std::error_code discard(std::size_t n);
  // True when the client sent something within `wait` (the pregreet test).
  asio::awaitable<bool> readable_within(std::chrono::milliseconds wait);

  // TLS handshake as the server. On failure `error` says why; the transport is then unusable.
  asio::awaitable<bool> start_tls(const std::shared_ptr<asio::ssl::context>& ctx,
                                  Clock::time_point deadline, std::string& error);
  // TLS handshake as the client (outbound STARTTLS or implicit TLS), sending `server_name` as SNI
  // when it is a host name (RFC 6066 §3: not for address literals).
  asio::awaitable<bool> start_tls_client(const std::shared_ptr<asio::ssl::context>& ctx,
                                         const std::string& server_name, Clock::time_point deadline,
                                         std::string& error);
  bool tls() const { return tls_ != nullptr; }
  // "TLSv1.3" and the cipher name, once TLS is up.
  std::string tls_version() const;
  std::string tls_cipher() const;
  // "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" for Received.
  std::string tls_description() const;

  // Graceful end: TLS close_notify (bounded wait for the peer's), or for plaintext with unread
  // input a half-close and a short drain so the kernel does not answer with RST and destroy the
  // last replies in flight; then close.
  asio::awaitable<void> shutdown(bool unread_input);
  // Ends a pending read or write at once (shutdown of the server, idle connections).
  void cancel();
  void close();

  bool timed_out() const { return timed_out_; }
  Socket& socket();

 private:
  asio::awaitable<bool> handshake(const std::shared_ptr<asio::ssl::context>& ctx,
                                  asio::ssl::stream_base::handshake_type role,
                                  const std::string& server_name, Clock::time_point deadline,
                                  std::string& error);
  void arm(Clock::time_point deadline);
  void disarm();

  Socket sock_;
  std::unique_ptr<asio::ssl::stream<Socket>> tls_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;  // kept alive for this connection
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
  bool timed_out_ = false;
};

}  // namespace taube::net
