// OutboundConnection: one SMTP (or LMTP) client connection, the sans-I/O ClientSession
// (src/smtp/client) driven over a Transport. It connects (TCP, or a unix stream socket for LMTP),
// reads the greeting, says EHLO, does STARTTLS and AUTH as the session decides, then carries
// messages one by one until the caller says QUIT. Knows nothing of the queue: it returns the
// session's per-recipient results.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ssl/context.hpp>

#include "net/transport.hpp"
#include "smtp/client/client_session.hpp"

namespace taube::net {

struct OutboundTarget {
  std::string host;  // the name the address belongs to (SNI, logs, Remote-MTA)
  asio::ip::address address;
  std::uint16_t port = 25;
  // Set: a unix stream socket (LMTP to a local store); address and port are unused, and `host`
  // is our own host name, as in Postfix's relay=mail.example.com[private/dovecot-lmtp].
  std::string unix_path;
  // "mx.remote.test[192.0.2.1]:25", Postfix's relay= field; "host[/run/dovecot/lmtp]" for a
  // unix socket.
  std::string relay() const;
};

// How an open() ended, one word each for the metrics and the log (events::OutboundOpened).
enum class OpenResult { Ok, Refused, Timeout, Unreachable, TlsFailed, Rejected, Lost, Cut, Error };
const char* to_string(OpenResult r);

class OutboundConnection {
 public:
  // Connects and sets the session up. On failure returns nullptr with `error` saying why
  // ("connect to host[ip]:port: Connection refused", or the session's failure reply) and
  // `failure` holding the session's failure if it got that far. While it runs, `*cut` (if
  // given) closes what it has opened so far, so that it returns at once (the shutdown grace);
  // it is reset before open() returns. `transcript` (if given) receives the session's transcript
  // when the session fails (`taube send -v` shows the dialog that ended in the failure).
  // `result` (if given) receives how it ended.
  static asio::awaitable<std::unique_ptr<OutboundConnection>> open(
      asio::io_context& io, const OutboundTarget& target, const smtp::client::ClientConfig& config,
      const std::shared_ptr<asio::ssl::context>& tls, std::chrono::seconds connect_timeout,
      std::string& error, std::optional<smtp::client::SessionFailure>& failure,
      std::function<void()>* cut = nullptr, std::vector<std::string>* transcript = nullptr,
      OpenResult* result = nullptr);

  ~OutboundConnection();

  // Sends one message; `content` in stored form. The result has one entry per recipient.
  // After it, usable() says whether another message may follow. `before_data` (may be empty)
  // runs once the peer has accepted the envelope, just before the content and its end go out
  // (the queue's "end of data sent" mark, store/inflight_log.hpp).
  asio::awaitable<smtp::client::MessageResult> send(const smtp::client::OutboundMessage& message,
                                                    const std::string& content,
                                                    const std::function<void()>& before_data = {});
  // The content of a large message, in pieces: next() gives the following piece, an empty one
  // at the end, nothing when the rest cannot be read.
  class ContentSource {
   public:
    virtual ~ContentSource() = default;
    virtual asio::awaitable<std::optional<std::string>> next() = 0;
  };
  // The same, streamed: a piece at a time goes out (the peer's TCP window and the data-block
  // timeout pace it), so a message never sits in memory whole. A piece that cannot be read
  // abandons the transaction before its end of data (the connection is closed: RFC 5321
  // §4.1.1.4, the server discards an unfinished message), and its recipients are deferred.
  asio::awaitable<smtp::client::MessageResult> send(const smtp::client::OutboundMessage& message,
                                                    ContentSource& content,
                                                    const std::function<void()>& before_data = {});
  bool usable() const;
  // QUIT and close.
  asio::awaitable<void> quit();

  const OutboundTarget& target() const { return target_; }
  const smtp::client::ClientSession& session() const { return *session_; }
  smtp::Dialect dialect() const { return dialect_; }
  // The transcript of the last message: the session's opening (greeting, EHLO, STARTTLS, AUTH)
  // and that message's commands and replies.
  std::string transcript() const;
  bool tls() const { return transport_->tls(); }
  std::string tls_description() const { return transport_->tls_description(); }
  // "TLSv1.3", or "" for plaintext.
  std::string tls_version() const { return transport_->tls() ? transport_->tls_version() : ""; }
  std::string tls_cipher() const { return transport_->tls() ? transport_->tls_cipher() : ""; }
  // Closes the connection under whatever is in flight (the server's shutdown grace is over): the
  // pending read or write fails, and send() settles the message (Deferred, or Unknown once its
  // end of data was out).
  void abort() { transport_->close(); }
  std::uint32_t messages() const { return messages_; }
  std::chrono::steady_clock::time_point opened() const { return opened_; }

  OutboundConnection(std::unique_ptr<Transport> t, OutboundTarget target,
                     const smtp::client::ClientConfig& config,
                     std::shared_ptr<asio::ssl::context> tls);

 private:
  // Writes what the session has to say, reads, handshakes, until the session waits for the
  // caller (Ready, Content, Done).
  asio::awaitable<void> pump();
  void begin_message(const smtp::client::OutboundMessage& message);
  smtp::client::MessageResult result_of(const smtp::client::OutboundMessage& message);

  std::unique_ptr<Transport> transport_;
  OutboundTarget target_;
  std::unique_ptr<smtp::client::ClientSession> session_;
  smtp::Dialect dialect_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::vector<std::string> opening_;  // the transcript up to the first message
  std::uint32_t messages_ = 0;
  bool lost_ = false;  // a read or write failed (the session was closed under it)
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
};

}  // namespace taube::net
