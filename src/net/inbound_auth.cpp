// InboundConnection: AUTH (RFC 4954). Passwords are checked on the worker pool (crypt(3) is slow
// by design); a failure is answered after failure_delay and counted by the AUTH throttle, which
// bans an address after repeated failures.
#include "net/blocking_pool.hpp"
#include "net/inbound_connection.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

bool InboundConnection::scram_first() {
  const auto& req = session_.auth_request();
  auto users = creds_.users;
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

bool InboundConnection::scram_final() {
  const auto& req = session_.auth_request();
  auto ex = std::move(scram_);
  if (!ex) return false;
  auto fin = smtp::parse_scram_client_final(req.sasl_message);
  if (!fin) {
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
  ctx_.observer.auth_succeeded({peer_, req.mechanism, req.username});
  session_.auth_verified("v=" +
                         store::base64(store::scram_server_signature(ex->secret, auth_message)));
  return true;
}

asio::awaitable<void> InboundConnection::authenticate() {
  const auto req = session_.auth_request();
  if (req.mechanism == "SCRAM-SHA-256") {
    // HMACs and SHA-256 over a few hundred octets: cheap enough for the event loop (the slow
    // PBKDF2 was done when the secret was made).
    const bool ok = req.step == 0 ? scram_first() : scram_final();
    if (!ok) co_await auth_failed(req);
    co_return;
  }
  auto users = creds_.users;
  bool ok = false;
  if (users) {
    auto verify = [&users, &req] { return users->verify(req.username, req.password); };
    ok = co_await run_blocking(ctx_.pool, verify);
  }
  if (ok) {
    ctx_.observer.auth_succeeded({peer_, req.mechanism, req.username});
    session_.auth_done(true);
    co_return;
  }
  co_await auth_failed(req);
}

asio::awaitable<void> InboundConnection::auth_failed(const smtp::AuthRequest& req) {
  scram_.reset();
  const bool banned = ctx_.throttle.failure(client_, std::chrono::steady_clock::now());
  ctx_.observer.auth_failed({peer_, req.mechanism, req.username, banned});
  // A failed attempt is answered late: it slows down password guessing without a thread.
  if (ctx_.config.auth.failure_delay.count() > 0) {
    timer_.expires_after(ctx_.config.auth.failure_delay);
    co_await timer_.async_wait(as_tuple(use_awaitable));
  }
  session_.auth_done(false);
  if (banned) session_.reject_connection(smtp::ReplyId::AuthTooManyFailures);
}

}  // namespace taube::net
