// InboundConnection: AUTH (RFC 4954). The session runs the SASL exchange (sasl:: mechanisms);
// here are its outside needs: passwords are checked on the worker pool (crypt(3) is slow by
// design), SCRAM secrets come from the users file, and every failure is counted by the AUTH
// throttle (which bans an address after repeated failures) and answered after failure_delay.
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/blocking_pool.hpp"
#include "net/inbound_connection.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

asio::awaitable<void> InboundConnection::authenticate() {
  const smtp::AuthRequest& req = session_.auth_request();
  const auto& users = creds_.users;
  switch (req.need) {
    case smtp::AuthRequest::Need::VerifyPassword: {
      bool ok = false;
      if (users) {
        auto verify = [&users, &req] { return users->verify(req.username, req.password); };
        ok = co_await run_blocking(ctx_.pool, verify);
      }
      session_.auth_checked(ok);  // a failure comes back as Need::Failed
      co_return;
    }
    case smtp::AuthRequest::Need::LookupSecret: {
      const sasl::ScramSecret* secret = users ? users->scram_secret(req.username) : nullptr;
      session_.auth_secret(secret ? std::optional<sasl::ScramSecret>(*secret) : std::nullopt);
      co_return;
    }
    case smtp::AuthRequest::Need::Failed:
      break;
  }
  const bool banned = ctx_.throttle.failure(client_, std::chrono::steady_clock::now());
  ctx_.observer.auth_failed({peer_, req.mechanism, req.username, banned});
  // A failed attempt is answered late: it slows down password guessing without a thread.
  if (ctx_.config.auth.failure_delay.count() > 0) {
    timer_.expires_after(ctx_.config.auth.failure_delay);
    co_await timer_.async_wait(as_tuple(use_awaitable));
  }
  session_.auth_failed();
  if (banned) session_.reject_connection(smtp::ReplyId::AuthTooManyFailures);
}

}  // namespace taube::net
