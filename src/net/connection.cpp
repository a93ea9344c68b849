#include "net/connection.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <variant>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "net/blocking_pool.hpp"
#include "net/queue_id.hpp"
#include "net/server.hpp"
#include "smtp/wire/trace.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kReadChunk = 32 * 1024;    // message content
constexpr std::size_t kCommandChunk = 4 * 1024;  // a burst of (pipelined) commands
constexpr std::size_t kIdleChunk = 1024;         // waiting for the next command
constexpr std::size_t kDataProgress = 8 * 1024;  // content per data_timeout that counts as progress

// The client's address as accept() reported it (no getpeername per connection).
asio::ip::address remote_address(const asio::ip::tcp::endpoint& peer) {
  auto a = peer.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

smtp::ChannelPolicy channel_policy(const Server& srv, const ListenerConfig& l) {
  smtp::ChannelPolicy p;
  const bool tls = srv.tls_context() != nullptr;
  p.starttls = tls && (l.tls == TlsMode::StartTls || l.tls == TlsMode::Required);
  p.tls_required = tls && l.tls == TlsMode::Required;
  p.auth = l.auth && srv.users() != nullptr;
  p.scram = p.auth && srv.users()->has_scram();
  p.plaintext_auth = l.plaintext_auth;
  p.auth_required = l.submission;
  return p;
}

std::string reply_text(const smtp::Reply& r) {
  std::string s = std::to_string(r.code);
  if (!r.enhanced.empty()) s += " " + r.enhanced;
  return s + " " + r.text.substr(0, r.text.find('\n'));
}

}  // namespace

Connection::Connection(Server& server, const ListenerConfig& listener, asio::ip::tcp::socket socket,
                       const asio::ip::tcp::endpoint& peer)
    : srv_(server),
      listener_(listener),
      sock_(std::move(socket)),
      timer_(sock_.get_executor()),
      addr_(remote_address(peer)),
      session_(server.config().session,
               smtp::ClientInfo{addr_.to_string(), {}, false, false, {}, {}},
               channel_policy(server, listener)) {
  ip_ = addr_.to_string();
  registry_ = srv_.enroll(this);
}

Connection::~Connection() {
  if (spool_) spool_->abort();
  if (admitted_) srv_.release(ip_);
  srv_.withdraw(registry_);
}

void Connection::interrupt() {
  if (!idle_wait_) return;
  asio::error_code ec;
  (tls_ ? tls_->next_layer() : sock_).cancel(ec);  // the read ends; run() sees stopping()
}

void Connection::arm_timer(std::chrono::milliseconds d) {
  arm_timer_at(std::chrono::steady_clock::now() + d);
}

void Connection::arm_timer_at(std::chrono::steady_clock::time_point deadline) {
  // One plain completion handler per operation instead of racing the operation against the timer
  // with awaitable operators: no parallel-group frames, less memory per idle connection.
  timed_out_ = false;
  timer_.expires_at(deadline);
  // The generation guards against a deadline that fired just as its operation completed: its
  // handler, run later, must not cancel the next operation.
  timer_.async_wait([this, gen = ++timer_generation_](const asio::error_code& ec) {
    if (ec) return;  // cancelled (also when the connection is gone): `this` is not touched
    if (gen != timer_generation_) return;
    timed_out_ = true;
    asio::error_code ignored;
    (tls_ ? tls_->next_layer() : sock_).cancel(ignored);
  });
}

void Connection::force_close() {
  asio::error_code ec;
  (tls_ ? tls_->next_layer() : sock_).close(ec);
  timer_.cancel();
}

asio::awaitable<bool> Connection::start_tls() {
  tls_ctx_ = srv_.tls_context();
  if (!tls_ctx_) co_return false;
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(sock_), *tls_ctx_);
  timer_.expires_after(srv_.config().command_timeout);
  auto r =
      co_await (tls_->async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable)) ||
                timer_.async_wait(as_tuple(use_awaitable)));
  if (r.index() == 1) {
    spdlog::info("TLS handshake timeout from [{}]", ip_);
    co_return false;
  }
  auto [ec] = std::get<0>(r);
  if (ec) {
    spdlog::info("TLS handshake failed from [{}]: {}", ip_, ec.message());
    co_return false;
  }
  spdlog::debug("TLS established with [{}]: {}", ip_, describe_tls(tls_->native_handle()));
  co_return true;
}

asio::awaitable<void> Connection::run() {
  asio::error_code ec;
#ifndef __linux__
  // Linux: inherited from the listening socket (Server::listen), one setsockopt less per client.
  sock_.set_option(asio::ip::tcp::no_delay(true), ec);
#endif
  admitted_ = srv_.admit(ip_);
  if (admitted_ && listener_.tls == TlsMode::Implicit) {
    // RFC 8314 §3: implicit TLS: the handshake comes before the greeting.
    if (!co_await start_tls()) {
      (tls_ ? tls_->next_layer() : sock_).close(ec);
      co_return;
    }
    session_.set_implicit_tls(describe_tls(tls_->native_handle()));
  }
  if (!admitted_) {
    spdlog::warn("reject connection from [{}]: too many connections", ip_);
    session_.reject_connection(smtp::ReplyId::TooManyConnections);
  } else if (srv_.stopping()) {
    session_.reject_connection(smtp::ReplyId::ShuttingDown);
  } else if (srv_.auth_throttle().banned(ip_, std::chrono::steady_clock::now())) {
    session_.reject_connection(smtp::ReplyId::AuthTooManyFailures);
  } else if (srv_.config().pregreet_delay.count() > 0 && co_await talks_before_greeting()) {
    spdlog::warn("client [{}] talked before the greeting: rejected", ip_);
    session_.reject_connection(smtp::ReplyId::PregreetViolation);
  } else {
    spdlog::debug("connect from [{}]", ip_);
    // Operators can exempt known non-conforming senders from the strict bare-newline rule.
    if (srv_.config().session.bare_newline == smtp::BareNewlinePolicy::Reject) {
      asio::error_code aec;
      const auto addr = asio::ip::make_address(ip_, aec);
      for (const auto& net : srv_.config().bare_newline_exempt) {
        if (!aec && net.contains(addr)) {
          session_.set_bare_newline_policy(smtp::BareNewlinePolicy::Note);
          break;
        }
      }
    }
    session_.start();
  }
  while (!session_.closed()) {
    if (!co_await flush()) break;
    if (!co_await read_more()) break;
    co_await process_input();
    if (!session_.closed() && srv_.stopping() && !session_.in_transaction()) session_.shutdown();
  }
  co_await flush();
  if (spool_) {
    spool_->abort();
    spool_.reset();
  }
  if (tls_) {
    // RFC 8446 §6.1: send close_notify before closing; wait briefly for the peer's.
    timer_.expires_after(std::chrono::seconds(2));
    co_await (tls_->async_shutdown(as_tuple(use_awaitable)) ||
              timer_.async_wait(as_tuple(use_awaitable)));
  }
  auto& raw = tls_ ? tls_->next_layer() : sock_;
  if (!tls_ && (start_ < end_ || raw.available(ec) > 0)) {
    // Closing with unread input makes the kernel send RST, which can destroy replies still in
    // flight (the 421 after a flood of pipelined commands). Half-close, then read and discard
    // what the client still sends, for a short while, before closing.
    raw.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    buf_.ensure(0, kCommandChunk);
    arm_timer(std::chrono::seconds(2));
    for (int i = 0; i < 1024; ++i) {
      auto [rec, rn] = co_await raw.async_read_some(asio::buffer(buf_.data(), buf_.capacity()),
                                                    as_tuple(use_awaitable));
      if (rec) break;
    }
    disarm_timer();
  }
  raw.close(ec);
  spdlog::debug("disconnect from [{}]", ip_);
}

asio::awaitable<bool> Connection::talks_before_greeting() {
  char probe[1];
  timer_.expires_after(srv_.config().pregreet_delay);
  // (No co_await inside ?: anywhere in this file: GCC 12 miscompiles it, running the wrong arm.)
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

asio::awaitable<bool> Connection::read_more() {
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
  if (idle_wait_ && srv_.stopping()) {
    idle_wait_ = false;
    session_.shutdown();
    co_return false;
  }
  // Deadlines are for progress, not for single reads (slowloris: one byte a second must not keep
  // a session alive): a command must be complete within command_timeout of the previous reply,
  // and message content must arrive at kDataProgress octets per data_timeout at least.
  const auto now = std::chrono::steady_clock::now();
  if (in_message != deadline_in_message_ || progress_ ||
      (in_message && bytes_since_deadline_ >= kDataProgress)) {
    deadline_ = now + (in_message ? srv_.config().data_timeout : srv_.config().command_timeout);
    deadline_in_message_ = in_message;
    progress_ = false;
    bytes_since_deadline_ = 0;
  }
  arm_timer_at(deadline_);
  asio::error_code ec;
  std::size_t n = 0;
  // Between commands the buffer shrinks to a small one (memory per idle connection); it grows
  // for pipelined bursts and message content. (A readiness wait before allocating would cost an
  // epoll_ctl per command with Asio's reactor.)
  std::size_t want = kReadChunk;
  if (!in_message) {
    want = end_ == 0 ? kIdleChunk : kCommandChunk;
    if (end_ == 0 && buf_.capacity() > kIdleChunk) buf_.release();
  }
  buf_.ensure(end_, want);
  const auto b = asio::buffer(buf_.data() + end_, buf_.capacity() - end_);
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(b, as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await sock_.async_read_some(b, as_tuple(use_awaitable));
  }
  disarm_timer();
  if (ec == asio::error::operation_aborted && (timed_out_ || srv_.stopping()))
    co_return read_timed_out(in_message);
  idle_wait_ = false;
  if (ec) {
    if (session_.receiving_message() || session_.in_transaction())
      spdlog::info("lost connection from [{}] in a transaction: {}", ip_, ec.message());
    if (spool_) {
      spool_->abort();
      spool_.reset();
    }
    co_return false;
  }
  end_ += n;
  bytes_since_deadline_ += n;
  co_return true;
}

bool Connection::read_timed_out(bool in_message) {
  idle_wait_ = false;
  if (srv_.stopping() && !session_.in_transaction()) {
    session_.shutdown();  // 421 4.3.2
  } else {
    spdlog::info("timeout after {} from [{}]", in_message ? "DATA" : "command", ip_);
    session_.timeout();  // 421 4.4.2 (RFC 5321 §4.5.3.2)
  }
  return false;
}

asio::awaitable<void> Connection::process_input() {
  while (true) {
    const std::size_t n =
        session_.receive(std::span<const char>(buf_.data() + start_, end_ - start_));
    start_ += n;
    co_await handle_events();
    switch (session_.pending()) {
      case smtp::Pending::Mail:
        resolve_sender();
        continue;
      case smtp::Pending::Rcpt:
        resolve_recipient();
        continue;
      case smtp::Pending::Vrfy:
      case smtp::Pending::Expn:
        resolve_lookup();
        continue;
      default:
        break;
    }
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
      if (!co_await flush() || !co_await start_tls()) {
        session_.reject_connection(smtp::ReplyId::TooManyErrors);
        session_.output().clear();  // nothing more can be said on a broken channel
        break;
      }
      session_.tls_started(describe_tls(tls_->native_handle()));
      continue;
    }
    if (n == 0 || start_ == end_ || session_.closed()) break;
  }
  if (session_.closed()) start_ = end_;
}

asio::awaitable<void> Connection::handle_events() {
  while (auto ev = session_.poll_event()) {
    switch (ev->kind) {
      case smtp::EventKind::MessageBegin:
        begin_message(*ev->envelope);
        break;
      case smtp::EventKind::MessageAbort:
        if (spool_) {
          spool_->abort();
          spool_.reset();
        }
        if (ev->reply.code != 0) log_transaction(ev->reply);
        break;
      case smtp::EventKind::BareNewline:
        // Strict servers break real senders; operators need to see who sends what.
        spdlog::warn("client [{}] (helo={}) sent bare newlines in DATA: {} bare LF, {} bare CR",
                     ip_, session_.client().helo, ev->bare_lf, ev->bare_cr);
        break;
      case smtp::EventKind::StartTls:
        start_tls_ = true;
        break;
      case smtp::EventKind::Reject:
        log_reject(*ev);
        break;
      case smtp::EventKind::Close:
        break;
    }
  }
  std::string& body = session_.body();
  if (spool_ && !body.empty()) {
    spool_->append(body);
    if (spool_->needs_flush()) {
      body.clear();
      co_await spool_->flush();
    }
  }
  body.clear();
}

void Connection::begin_message(const smtp::Envelope& env) {
  std::vector<std::string> maildirs;
  const std::string& relay_spool = srv_.config().relay.spool;
  for (const auto& r : env.recipients)
    for (const auto& d : r.destinations) {
      const std::string& dir = d.route == smtp::Destination::Route::Queue ? relay_spool : d.target;
      if (std::find(maildirs.begin(), maildirs.end(), dir) == maildirs.end())
        maildirs.push_back(dir);
    }
  queue_id_ = new_queue_id();
  tx_start_ = std::chrono::steady_clock::now();
  tx_from_ = env.sender.null ? "" : env.sender.mailbox.to_string();
  tx_to_.clear();
  for (const auto& r : env.recipients) {
    if (!tx_to_.empty()) tx_to_ += ",";
    tx_to_ += "<" + r.mailbox.to_string() + ">";
  }
  spool_.emplace(srv_.store(), srv_.pool(), std::move(maildirs), srv_.config().discard,
                 srv_.journal());
  // Relayed recipients wait in the outbound spool with an envelope file (no queue yet).
  std::string relay_env;
  for (const auto& r : env.recipients) {
    if (r.destinations.size() == 1 &&
        r.destinations.front().route == smtp::Destination::Route::Queue) {
      relay_env += "rcpt " + r.mailbox.to_string();
      if (r.params.notify) relay_env += " notify=" + std::to_string(r.params.notify);
      if (r.params.orcpt_type)
        relay_env +=
            " orcpt=" + *r.params.orcpt_type + ";" + smtp::encode_xtext(*r.params.orcpt_address);
      relay_env += "\n";
    }
  }
  if (!relay_env.empty()) {
    std::string head = "version 1\nid " + queue_id_ + "\nfrom " +
                       (env.sender.null ? std::string() : env.sender.mailbox.to_string()) + "\n";
    if (env.mail_params.ret)
      head += std::string("ret ") + (*env.mail_params.ret == smtp::DsnRet::Full ? "FULL" : "HDRS") +
              "\n";
    if (env.mail_params.envid) head += "envid " + smtp::encode_xtext(*env.mail_params.envid) + "\n";
    if (!session_.client().auth_user.empty()) head += "auth " + session_.client().auth_user + "\n";
    spool_->set_relay(relay_spool, head + relay_env);
  }

  smtp::TraceInfo t;
  t.helo = session_.client().helo;
  t.client_ip = ip_;
  t.hostname = srv_.config().session.hostname;
  t.id = queue_id_;
  if (env.recipients.size() == 1) t.for_rcpt = env.recipients.front().mailbox.to_string();
  t.date = rfc5322_date_now();
  t.esmtp = session_.client().esmtp;
  t.tls = session_.client().tls;
  t.tls_info = session_.client().tls_info;
  t.authenticated = !session_.client().auth_user.empty();
  t.auth_user = session_.client().auth_user;
  t.smtputf8 = env.mail_params.smtputf8;
  spool_->append(smtp::return_path_header(env.sender));
  spool_->append(smtp::received_header(t));
}

asio::awaitable<void> Connection::commit() {
  // Send what is queued (e.g. 250s for earlier BDAT chunks) while the disk works.
  co_await flush();
  smtp::CommitResult result{smtp::CommitStatus::StorageError, queue_id_, {}};
  if (spool_) {
    auto r = co_await spool_->commit();
    spool_.reset();
    if (r) {
      result.status = smtp::CommitStatus::Accepted;
    } else {
      spdlog::error("id={} client=[{}] delivery failed: {}", queue_id_, ip_,
                    store::to_string(r.error()));
      result.status = r.error() == store::StoreError::NoSpace ? smtp::CommitStatus::StorageFull
                                                              : smtp::CommitStatus::StorageError;
    }
  }
  log_transaction(result.status == smtp::CommitStatus::Accepted
                      ? smtp::make_reply(smtp::ReplyId::Queued, queue_id_)
                      : smtp::make_reply(result.status == smtp::CommitStatus::StorageFull
                                             ? smtp::ReplyId::StorageFull
                                             : smtp::ReplyId::StorageError));
  session_.commit_done(result);
}

void Connection::resolve_lookup() {
  const auto& req = session_.address_request();
  const auto& dir = srv_.directory();
  std::string domain = req.mailbox.domain;
  if (domain.empty() && !dir.config().domains.empty())
    domain = dir.config().domains.front();  // "VRFY alice" means alice at our first domain
  const auto res = dir.resolve(req.mailbox.local_part, domain);
  using K = smtp::AddressVerdictKind;
  if (res.verdict == store::Verdict::Local || res.verdict == store::Verdict::Forward) {
    std::vector<std::string> found = res.expansion;
    if (session_.pending() == smtp::Pending::Vrfy || found.empty())
      found = {req.mailbox.local_part + "@" + domain};
    session_.resolve_address({K::Found, std::move(found)});
  } else if (res.verdict == store::Verdict::UserUnknown) {
    session_.resolve_address({K::Unknown, {}});
  } else {
    session_.resolve_address({K::CannotVerify, {}});
  }
}

void Connection::resolve_recipient() {
  const auto& req = session_.rcpt_request();
  const auto res = srv_.directory().resolve(req.mailbox.local_part, req.mailbox.domain);
  using K = smtp::RcptVerdictKind;
  std::vector<smtp::Destination> dests;
  for (const auto& m : res.maildirs) dests.push_back({smtp::Destination::Route::Mailbox, m});
  switch (res.verdict) {
    case store::Verdict::Local:
      session_.resolve_rcpt({K::Accept, std::move(dests), {}});
      return;
    case store::Verdict::Forward:
      // RFC 5321 §3.4: 251 tells the client where the mail really goes.
      session_.resolve_rcpt({K::Forward, std::move(dests), res.forward_to});
      return;
    case store::Verdict::UserUnknown:
      session_.resolve_rcpt({K::UserUnknown, {}, {}});
      return;
    case store::Verdict::RelayDenied:
      // Never an open relay: other domains only for authenticated clients and trusted networks.
      // Address literals and anything not a plain domain are refused even then.
      if (!req.mailbox.domain_is_literal && !req.mailbox.domain.empty() &&
          (!session_.client().auth_user.empty() || srv_.relay_allowed_from(addr_))) {
        session_.resolve_rcpt(
            {K::Accept, {{smtp::Destination::Route::Queue, req.mailbox.to_string()}}, {}});
        return;
      }
      session_.resolve_rcpt({K::RelayDenied, {}, {}});
      return;
  }
}

void Connection::resolve_sender() {
  // With restrict_sender, an authenticated user may only use its own address: the login itself
  // when it is an address, or login@<local domain> when it is a bare name; <> is always allowed.
  const auto& mb = session_.mail_request().sender.mailbox;
  const std::string& user = session_.client().auth_user;
  bool ok = user.empty() || !srv_.config().auth.restrict_sender || mb.empty();
  if (!ok) {
    if (user.find('@') != std::string::npos) {
      const auto at = user.rfind('@');
      ok = user.substr(0, at) == mb.local_part &&
           smtp::ascii_iequals(user.substr(at + 1), mb.domain);
    } else {
      ok = mb.local_part == user && srv_.directory().is_local_domain(mb.domain);
    }
  }
  session_.resolve_mail(ok ? smtp::MailVerdict::Accept : smtp::MailVerdict::NotOwned);
}

bool Connection::scram_first() {
  const auto& req = session_.auth_request();
  auto users = srv_.users();
  if (!users) return false;
  auto ex = std::make_unique<ScramExchange>();
  if (const auto* secret = users->scram_secret(req.username)) {
    ex->secret = *secret;
    ex->known_user = true;
  } else {
    ex->secret = users->fake_scram_secret(req.username);
  }
  // RFC 5802 §5.1: the server appends its own nonce (printable, no ','): 18 random octets.
  ex->nonce = req.scram_first.nonce + store::base64(store::random_octets(18));
  ex->server_first = "r=" + ex->nonce + ",s=" + store::base64(ex->secret.salt) +
                     ",i=" + std::to_string(ex->secret.iterations);
  session_.auth_challenge(ex->server_first);
  scram_ = std::move(ex);
  return true;
}

bool Connection::scram_final() {
  const auto& req = session_.auth_request();
  auto ex = std::move(scram_);
  if (!ex) return false;
  auto fin = smtp::parse_scram_client_final(req.sasl_message);
  if (!fin) {
    spdlog::info("client [{}] SCRAM client-final: {}", ip_, fin.error());
    return false;
  }
  // c= must echo the GS2 header (no channel binding data), r= the combined nonce.
  if (fin->channel_binding != store::base64(req.scram_first.gs2_header) || fin->nonce != ex->nonce)
    return false;
  auto proof = store::unbase64(fin->proof);
  if (!proof) return false;
  const std::string auth_message =
      req.scram_first.bare + "," + ex->server_first + "," + fin->without_proof;
  if (!store::scram_verify_proof(ex->secret, auth_message, *proof) || !ex->known_user) return false;
  spdlog::info("client [{}] authenticated as {} ({})", ip_, req.username, req.mechanism);
  session_.auth_verified("v=" +
                         store::base64(store::scram_server_signature(ex->secret, auth_message)));
  return true;
}

asio::awaitable<void> Connection::authenticate() {
  const auto req = session_.auth_request();
  if (req.mechanism == "SCRAM-SHA-256") {
    // HMACs and SHA-256 over a few hundred octets: cheap enough for the event loop (the slow
    // PBKDF2 was done when the secret was made).
    const bool ok = req.step == 0 ? scram_first() : scram_final();
    if (!ok) co_await auth_failed(req);
    co_return;
  }
  auto users = srv_.users();
  bool ok = false;
  if (users) {
    auto verify = [&users, &req] { return users->verify(req.username, req.password); };
    ok = co_await run_blocking(srv_.pool(), verify);
  }
  if (ok) {
    spdlog::info("client [{}] authenticated as {} ({})", ip_, req.username, req.mechanism);
    session_.auth_done(true);
    co_return;
  }
  co_await auth_failed(req);
}

asio::awaitable<void> Connection::auth_failed(const smtp::AuthRequest& req) {
  scram_.reset();
  spdlog::warn("client [{}] authentication failed for user {} ({})", ip_, req.username,
               req.mechanism);
  const bool banned = srv_.auth_throttle().failure(ip_, std::chrono::steady_clock::now());
  // A failed attempt is answered late: it slows down password guessing without a thread.
  timer_.expires_after(srv_.config().auth.failure_delay);
  co_await timer_.async_wait(as_tuple(use_awaitable));
  session_.auth_done(false);
  if (banned) {
    spdlog::warn("client [{}] banned after repeated authentication failures", ip_);
    session_.reject_connection(smtp::ReplyId::AuthTooManyFailures);
  }
}

asio::awaitable<bool> Connection::flush() {
  std::string& out = session_.output();
  if (out.empty()) co_return true;
  // A client that does not read its replies is dropped after the command timeout, so the
  // output never grows without bound.
  arm_timer(srv_.config().command_timeout);
  progress_ = true;  // a reply means a command (or a message) was completed
  asio::error_code ec;
  std::size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await asio::async_write(*tls_, asio::buffer(out), as_tuple(use_awaitable));
  } else {
    std::tie(ec, n) = co_await asio::async_write(sock_, asio::buffer(out), as_tuple(use_awaitable));
  }
  (void)n;
  disarm_timer();
  // Idle sessions keep no large reply buffer (an EHLO reply, a long multi-line answer).
  if (out.capacity() > 1024) std::string().swap(out);
  out.clear();
  if (timed_out_) spdlog::info("write timeout to [{}]", ip_);
  co_return !ec;
}

void Connection::log_reject(const smtp::Event& ev) {
  // Postfix's shape, so that fail2ban filters and pflogsumm written for it find refusals.
  const std::string proto = session_.client().esmtp ? "ESMTP" : "SMTP";
  spdlog::info("NOQUEUE: reject: {} from unknown[{}]: {}; from=<{}> to=<{}> proto={} helo=<{}>",
               smtp::verb_name(ev.verb), ip_, reply_text(ev.reply), ev.from, ev.to, proto,
               session_.client().helo);
}

void Connection::log_transaction(const smtp::Reply& result) {
  // One line per transaction, like Postfix's: id, client, sender, recipients, size, result, time.
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - tx_start_).count();
  spdlog::info("id={} client=[{}] helo={} from=<{}> to={} size={} result=\"{}\" duration={:.3f}s",
               queue_id_, ip_, session_.client().helo, tx_from_, tx_to_, session_.message_size(),
               reply_text(result), secs);
}

}  // namespace taube::net
