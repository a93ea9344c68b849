#include "net/outbound_connection.hpp"

#include <array>
#include <tuple>

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using smtp::client::Step;

std::string OutboundTarget::relay() const {
  if (!unix_path.empty()) return host + "[" + unix_path + "]";
  const std::string a = address.to_string();
  return host + "[" + a + "]:" + std::to_string(port);
}

OutboundConnection::OutboundConnection(std::unique_ptr<Transport> t, OutboundTarget target,
                                       const smtp::client::ClientConfig& config,
                                       std::shared_ptr<asio::ssl::context> tls)
    : transport_(std::move(t)),
      target_(std::move(target)),
      session_(std::make_unique<smtp::client::ClientSession>(config)),
      dialect_(config.dialect),
      tls_(std::move(tls)) {}

OutboundConnection::~OutboundConnection() {
  transport_->close();
}

const char* to_string(OpenResult r) {
  switch (r) {
    case OpenResult::Ok:
      return "ok";
    case OpenResult::Refused:
      return "refused";
    case OpenResult::Timeout:
      return "timeout";
    case OpenResult::Unreachable:
      return "unreachable";
    case OpenResult::TlsFailed:
      return "tls_failed";
    case OpenResult::Rejected:
      return "rejected";
    case OpenResult::Lost:
      return "lost";
    case OpenResult::Cut:
      return "cut";
    case OpenResult::Error:
      return "error";
  }
  return "error";
}

asio::awaitable<std::unique_ptr<OutboundConnection>> OutboundConnection::open(
    asio::io_context& io, const OutboundTarget& target, const smtp::client::ClientConfig& config,
    const std::shared_ptr<asio::ssl::context>& tls, std::chrono::seconds connect_timeout,
    std::string& error, std::optional<smtp::client::SessionFailure>& failure,
    std::function<void()>* cut, std::vector<std::string>* transcript, OpenResult* result) {
  OpenResult ignored_result;
  OpenResult& res = result ? *result : ignored_result;
  res = OpenResult::Ok;
  // RFC 5321 §4.5.3.2: the connection itself is bounded too (Postfix: smtp_connect_timeout 30s).
  asio::steady_timer timer(io);
  timer.expires_after(connect_timeout);
  bool timed_out = false, cut_off = false;
  // Both sockets live as long as the timer's handler may run (one of them is used).
  asio::local::stream_protocol::socket usock(io);
  asio::ip::tcp::socket tsock(io);
  timer.async_wait([&](asio::error_code e) {
    if (!e) {
      timed_out = true;
      asio::error_code ignored;
      usock.close(ignored);
      tsock.close(ignored);
    }
  });
  // The caller's handle to cut the opening short; reset on every way out of this frame.
  struct CutReset {
    std::function<void()>* cut;
    ~CutReset() {
      if (cut) *cut = nullptr;
    }
  } reset{cut};
  if (cut) {
    *cut = [&] {
      cut_off = true;
      timer.cancel();
      asio::error_code ignored;
      usock.close(ignored);
      tsock.close(ignored);
    };
  }
  std::unique_ptr<Transport> transport;
  asio::error_code ec;
  if (!target.unix_path.empty()) {
    const asio::local::stream_protocol::endpoint ep(target.unix_path);
    std::tie(ec) = co_await usock.async_connect(ep, as_tuple(use_awaitable));
    if (!ec && !timed_out) transport = std::make_unique<Transport>(std::move(usock));
  } else {
    const asio::ip::tcp::endpoint ep(target.address, target.port);
    std::tie(ec) = co_await tsock.async_connect(ep, as_tuple(use_awaitable));
    if (!ec && !timed_out) {
      asio::error_code nd;
      tsock.set_option(asio::ip::tcp::no_delay(true), nd);
      transport = std::make_unique<Transport>(std::move(tsock));
    }
  }
  timer.cancel();
  if (!transport) {
    error = "connect to " + target.relay() + ": " +
            (cut_off     ? std::string("cut off at shutdown")
             : timed_out ? std::string("Connection timed out")
                         : ec.message());
    res = cut_off     ? OpenResult::Cut
          : timed_out ? OpenResult::Timeout
          : (ec == asio::error::connection_refused || ec == asio::error::not_found ||
             ec == std::errc::no_such_file_or_directory)
              ? OpenResult::Refused
          : (ec == asio::error::network_unreachable || ec == asio::error::host_unreachable)
              ? OpenResult::Unreachable
              : OpenResult::Error;
    co_return nullptr;
  }
  auto conn = std::make_unique<OutboundConnection>(std::move(transport), target, config, tls);
  if (cut) *cut = [c = conn.get()] { c->abort(); };  // TLS, greeting, EHLO, AUTH
  if (config.tls_active) {
    std::string why;
    const auto deadline = Transport::Clock::now() + connect_timeout;
    const bool ok = co_await conn->transport_->start_tls_client(tls, target.host, deadline, why);
    if (!ok) {
      error = "TLS handshake with " + target.relay() + " failed: " + why;
      res = OpenResult::TlsFailed;
      co_return nullptr;
    }
  }
  co_await conn->pump();
  if (conn->session_->step() != Step::Ready) {
    failure = conn->session_->failure();
    if (transcript) *transcript = conn->session_->transcript();
    error = failure ? failure->reply : "session with " + target.relay() + " failed";
    res = failure && failure->tls_failed  ? OpenResult::TlsFailed
          : conn->transport_->timed_out() ? OpenResult::Timeout
          : conn->lost_                   ? OpenResult::Lost
                                          : OpenResult::Rejected;
    co_return nullptr;
  }
  co_return conn;
}

namespace {

// The session's timeout for what it waits for; 0 (idle, or a last QUIT written without waiting)
// still gets a bounded write.
std::chrono::seconds wait_for(const smtp::client::ClientSession& s) {
  const auto t = s.timeout();
  return t.count() > 0 ? t : std::chrono::seconds(60);
}

}  // namespace

asio::awaitable<void> OutboundConnection::pump() {
  std::array<char, 8192> buf{};
  for (;;) {
    std::string out = session_->take_output();
    if (!out.empty()) {
      const auto deadline = Transport::Clock::now() + wait_for(*session_);
      const asio::const_buffer data = asio::buffer(out);
      auto ec = co_await transport_->write_all(data, deadline);
      if (ec) {
        std::string why = transport_->timed_out() ? "timeout" : ec.message();
        lost_ = true;
        session_->closed("lost connection with " + target_.relay() + " while sending: " + why);
        continue;
      }
    }
    switch (session_->step()) {
      case Step::Read: {
        const auto deadline = Transport::Clock::now() + wait_for(*session_);
        const asio::mutable_buffer room = asio::buffer(buf);
        auto [ec, n] = co_await transport_->read_some(room, deadline);
        if (n == 0) {
          std::string why = transport_->timed_out()  ? "conversation timed out"
                            : ec == asio::error::eof ? "lost connection"
                                                     : ec.message();
          lost_ = true;
          session_->closed(why + " with " + target_.relay());
        } else {
          session_->received(std::string_view(buf.data(), n));
        }
        break;
      }
      case Step::StartTls: {
        std::string why;
        const auto deadline = Transport::Clock::now() + wait_for(*session_);
        const bool ok = co_await transport_->start_tls_client(tls_, target_.host, deadline, why);
        if (ok)
          session_->tls_established();
        else
          session_->tls_failed("TLS handshake with " + target_.relay() + " failed: " + why);
        break;
      }
      case Step::Ready:
      case Step::Content:
      case Step::Done:
        co_return;
    }
  }
}

void OutboundConnection::begin_message(const smtp::client::OutboundMessage& message) {
  if (messages_ == 0)
    opening_ = session_->restart_transcript();
  else
    session_->restart_transcript();
  ++messages_;
  session_->send(message);
}

smtp::client::MessageResult OutboundConnection::result_of(
    const smtp::client::OutboundMessage& message) {
  auto r = session_->take_result();
  if (r) return std::move(*r);
  // The session ended without a result (cannot happen with a conforming session): every
  // recipient is deferred, so nothing is lost.
  smtp::client::MessageResult none;
  for (std::size_t i = 0; i < message.recipients.size(); ++i)
    none.recipients.push_back(
        {i, smtp::client::Outcome::Deferred, "lost connection with " + target_.relay(), "4.4.2"});
  return none;
}

asio::awaitable<smtp::client::MessageResult> OutboundConnection::send(
    const smtp::client::OutboundMessage& message, const std::string& content,
    const std::function<void()>& before_data) {
  begin_message(message);
  co_await pump();
  if (session_->step() == Step::Content) {
    if (before_data) before_data();
    session_->content(content);
    session_->content_end();
    co_await pump();
  }
  co_return result_of(message);
}

asio::awaitable<smtp::client::MessageResult> OutboundConnection::send(
    const smtp::client::OutboundMessage& message, ContentSource& content,
    const std::function<void()>& before_data) {
  begin_message(message);
  co_await pump();
  if (session_->step() == Step::Content) {
    if (before_data) before_data();
    for (;;) {
      std::optional<std::string> piece = co_await content.next();
      if (!piece) {
        // Before the end of data: the peer discards the message once the connection closes.
        session_->closed("cannot read the queue file while sending to " + target_.relay());
        transport_->close();
        break;
      }
      if (piece->empty()) {
        session_->content_end();
        co_await pump();
        break;
      }
      session_->content(*piece);
      co_await pump();  // writes the piece (and reads BDAT replies); a failure ends the session
      if (session_->step() != Step::Content) break;
    }
  }
  co_return result_of(message);
}

bool OutboundConnection::usable() const {
  return session_->step() == Step::Ready;
}

asio::awaitable<void> OutboundConnection::quit() {
  if (session_->step() == Step::Ready) {
    session_->quit();
    co_await pump();
  }
  const bool unread = false;
  co_await transport_->shutdown(unread);
}

std::string OutboundConnection::transcript() const {
  std::string t;
  for (const auto& l : opening_) t.append(l).push_back('\n');
  for (const auto& l : session_->transcript()) t.append(l).push_back('\n');
  return t;
}

}  // namespace taube::net
