// InboundConnection: the read/answer/write loop. See inbound_message.cpp for the message's way to
// the sink and inbound_auth.cpp for AUTH.
#include "net/inbound_connection.hpp"

#include "net/channel_policy.hpp"

#include <cstring>

namespace taube::net {

namespace {

constexpr std::size_t kReadChunk = 32 * 1024;    // message content
constexpr std::size_t kCommandChunk = 4 * 1024;  // a burst of (pipelined) commands
constexpr std::size_t kIdleChunk = 1024;         // waiting for the next command

}  // namespace

InboundConnection::InboundConnection(const ConnectionContext& ctx, const ListenerConfig& listener,
                                     std::unique_ptr<Transport> transport, inet::IpAddress client,
                                     events::Peer peer)
    : ctx_(ctx),
      listener_(listener),
      transport_(std::move(transport)),
      client_(client),
      peer_(std::move(peer)),
      creds_(ctx.credentials),
      session_(ctx.config.session, smtp::ClientInfo{client.to_string(), {}, false, false, {}, {}},
               channel_policy_for(listener, creds_)),
      deadline_(ctx.config.command_timeout, ctx.config.data_timeout),
      timer_(transport_->socket().get_executor()) {
  registry_ = ctx_.registry.enroll(this);
}

InboundConnection::~InboundConnection() {
  drop_message();
  ctx_.registry.withdraw(registry_);
}

void InboundConnection::interrupt() {
  if (idle_wait_) transport_->cancel();  // the read ends; run() sees `stopping`
}

void InboundConnection::force_close() {
  transport_->close();
  timer_.cancel();
}

asio::awaitable<void> InboundConnection::run() {
  if (refuse_) {
    session_.reject_connection(*refuse_);
  } else {
    co_await greet();
  }
  while (!session_.closed()) {
    if (!co_await flush()) break;
    if (!co_await read_more()) break;
    co_await process_input();
    if (!session_.closed() && ctx_.stopping && !session_.in_transaction()) session_.shutdown();
  }
  co_await flush();
  drop_message();
  const bool unread = start_ < end_;
  co_await transport_->shutdown(unread);
  if (!refuse_) report_disconnect();
}

asio::awaitable<void> InboundConnection::greet() {
  if (listener_.tls == TlsMode::Implicit) session_.set_implicit_tls(transport_->tls_description());
  const std::chrono::milliseconds pregreet = ctx_.config.pregreet_delay;
  bool early = false;
  // A local submission has no greeting to wait for: the kernel vouches for the peer.
  if (pregreet.count() > 0 && !listener_.local_submission)
    early = co_await transport_->readable_within(pregreet);
  if (early) {
    ctx_.observer.refused(
        {peer_, "client talked before the greeting",
         smtp::make_reply(smtp::ReplyId::PregreetViolation, ctx_.config.session.hostname)});
    session_.reject_connection(smtp::ReplyId::PregreetViolation);
    co_return;
  }
  ctx_.observer.connected({peer_, false});
  // Operators can exempt known non-conforming senders from the strict bare-newline rule.
  if (ctx_.config.session.bare_newline == smtp::BareNewlinePolicy::Reject) {
    for (const auto& net : ctx_.config.bare_newline_exempt) {
      if (net.contains(client_)) {
        session_.set_bare_newline_policy(smtp::BareNewlinePolicy::Note);
        break;
      }
    }
  }
  session_.start();
}

asio::awaitable<bool> InboundConnection::read_more() {
  if (start_ == end_) {
    start_ = end_ = 0;
  } else if (start_ > 0) {
    // Keep the unconsumed tail (a paused pipeline) at the front.
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  const bool in_message = session_.receiving_message();
  idle_wait_ = !session_.in_transaction();
  if (idle_wait_ && ctx_.stopping) {
    idle_wait_ = false;
    session_.shutdown();
    co_return false;
  }
  const auto deadline = deadline_.before_read(in_message, std::chrono::steady_clock::now());
  // Between commands the buffer shrinks to a small one (memory per idle connection); it grows
  // for pipelined bursts and message content. (A readiness wait before allocating would cost an
  // epoll_ctl per command with Asio's reactor.)
  std::size_t want = kReadChunk;
  if (!in_message) {
    want = end_ == 0 ? kIdleChunk : kCommandChunk;
    if (end_ == 0 && buf_.capacity() > kIdleChunk) buf_.release();
  }
  buf_.ensure(end_, want);
  const asio::mutable_buffer room(buf_.data() + end_, buf_.capacity() - end_);
  auto [ec, n] = co_await transport_->read_some(room, deadline);
  idle_wait_ = false;
  if (ec) co_return read_ended(ec, in_message);
  end_ += n;
  deadline_.received(n);
  co_return true;
}

bool InboundConnection::read_ended(const std::error_code& ec, bool in_message) {
  if (ec == asio::error::operation_aborted && (transport_->timed_out() || ctx_.stopping)) {
    if (ctx_.stopping && !session_.in_transaction()) {
      session_.shutdown();  // 421 4.3.2
    } else {
      timed_out_ = true;
      session_.timeout();  // 421 4.4.2 (RFC 5321 §4.5.3.2)
    }
    (void)in_message;
    return false;
  }
  lost_ = true;  // EOF or reset without QUIT
  drop_message();
  return false;
}

asio::awaitable<void> InboundConnection::process_input() {
  while (true) {
    const std::size_t n =
        session_.receive(std::span<const char>(buf_.data() + start_, end_ - start_));
    start_ += n;
    co_await handle_events();
    policy::ClientFacts facts = policy::facts_of(session_, client_);
    facts.local_submission = listener_.local_submission;
    if (ctx_.policy.answer(session_, facts)) continue;
    if (session_.pending() == smtp::Pending::Commit) {
      co_await commit();
      continue;
    }
    if (session_.pending() == smtp::Pending::Auth) {
      co_await authenticate();
      continue;
    }
    if (start_tls_) {
      start_tls_ = false;
      // RFC 3207 §4.2 / CVE-2011-0411: whatever the client pipelined after STARTTLS was sent in
      // plaintext before the handshake and is dropped (the session discarded it too).
      start_ = end_ = 0;
      if (!co_await handshake_after_starttls()) break;
      continue;
    }
    if (n == 0 || start_ == end_ || session_.closed()) break;
  }
  if (session_.closed()) start_ = end_;
}

asio::awaitable<bool> InboundConnection::handshake_after_starttls() {
  std::string error;
  bool ok = co_await flush();
  if (ok) {
    const auto deadline = std::chrono::steady_clock::now() + ctx_.config.command_timeout;
    ok = co_await transport_->start_tls(creds_.tls, deadline, error);
  }
  if (!ok) {
    ctx_.observer.tls_failed({peer_, error.empty() ? "connection lost" : error});
    session_.reject_connection(smtp::ReplyId::TooManyErrors);
    session_.output().clear();  // nothing more can be said on a broken channel
    co_return false;
  }
  ctx_.observer.tls_established({peer_, transport_->tls_version(), transport_->tls_cipher()});
  session_.tls_started(transport_->tls_description());
  co_return true;
}

asio::awaitable<void> InboundConnection::handle_events() {
  while (auto ev = session_.poll_event()) {
    switch (ev->kind) {
      case smtp::EventKind::MessageBegin:
        begin_message(*ev->envelope);
        break;
      case smtp::EventKind::MessageAbort:
        drop_message();
        break;
      case smtp::EventKind::Reject:
        ctx_.observer.rejected({peer_, ev->verb, ev->reply, ev->from, ev->to,
                                session_.client().helo, session_.client().esmtp});
        break;
      case smtp::EventKind::BareNewline:
        // Strict servers break real senders; operators need to see who sends what.
        ctx_.observer.bare_newlines({peer_, session_.client().helo, ev->bare_lf, ev->bare_cr});
        break;
      case smtp::EventKind::StartTls:
        start_tls_ = true;
        break;
      case smtp::EventKind::Authenticated:
        ctx_.observer.auth_succeeded(
            {peer_, session_.auth_request().mechanism, session_.client().auth_user});
        break;
      case smtp::EventKind::Close:
        break;
    }
  }
  std::string& body = session_.body();
  if (message_ && !body.empty()) {
    message_->append(body);
    if (message_->needs_flush()) {
      body.clear();
      co_await message_->flush();
    }
  }
  body.clear();
}

asio::awaitable<bool> InboundConnection::flush() {
  std::string& out = session_.output();
  if (out.empty()) co_return true;
  // A client that does not read its replies is dropped after the command timeout, so the
  // output never grows without bound.
  deadline_.replied();  // a reply means a command (or a message) was completed
  const asio::const_buffer data(out.data(), out.size());
  const auto deadline = std::chrono::steady_clock::now() + ctx_.config.command_timeout;
  const auto ec = co_await transport_->write_all(data, deadline);
  // Idle sessions keep no large reply buffer (an EHLO reply, a long multi-line answer).
  if (out.capacity() > 1024) std::string().swap(out);
  out.clear();
  if (ec && transport_->timed_out()) {
    timed_out_ = true;  // the client does not read its replies
  } else if (ec && !session_.closed()) {
    lost_ = true;
  }
  co_return !ec;
}

void InboundConnection::report_disconnect() {
  events::Disconnected d{peer_, session_.command_counts(), lost_, session_.last_command(),
                         timed_out_};
  d.too_many_errors = session_.errors() >= ctx_.config.session.limits.max_errors;
  ctx_.observer.disconnected(d);
}

}  // namespace taube::net
