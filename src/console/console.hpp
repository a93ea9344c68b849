// Console: the operator's web console (docs/console.md) on the operator's HTTP listener, its
// own or the metrics one. Static pages under /console/ (compiled in, web_assets.hpp) and a JSON
// API under /api/v1/ that the pages use and scripts may too:
//
//   POST /api/v1/login          {"user", "password"} -> session cookie + CSRF token
//   POST /api/v1/logout         GET /api/v1/session
//   GET  /api/v1/queue          ?page=&per_page=&sender=&recipient=&domain=&state=
//   GET  /api/v1/queue/ID       envelope, recipients, why, last transcript, headers
//   POST /api/v1/queue/ID/ACTION  hold | release | retry | bounce | delete
//   POST /api/v1/bulk           {"action", "ids": [...]}      POST /api/v1/flush {"domain"?}
//   GET  /api/v1/overview       queue, connections, activity per minute, disk space
//   GET  /api/v1/destinations   ?sort=&page=&per_page=: per next hop, qshape and health
//   GET  /api/v1/log            Server-Sent Events of the log lines (?filter=)
//   GET  /api/v1/deliveries     ?q=&status=&page=&per_page=   GET /api/v1/deliveries/ID
//
// Authorisation, in this order: no session -> 401; a change (POST) without the session's CSRF
// token in X-CSRF-Token -> 403; a body that is not application/json -> 415. Sessions exist only
// for the administrators of [console] users_file; the password of a mail user ([auth]
// users_file) gets 403 at login, anything else 401, and failures per client address are
// throttled (429). Every action goes through the queue runner's administration, the functions
// `taube queue` uses (logged by them under taube/postsuper like the CLI's), plus one line saying
// which administrator did it from where.
//
// Nothing here blocks the event loop: password checks and file reads run on the worker pool.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <tl/expected.hpp>

#include "console/activity.hpp"
#include "console/console_config.hpp"
#include "console/log_feed.hpp"
#include "console/reject_reasons.hpp"
#include "console/session_store.hpp"
#include "events/observer.hpp"
#include "net/http_server.hpp"
#include "net/server.hpp"
#include "policy/auth_throttle.hpp"

namespace taube::console {

class Console final : public events::Observer {
 public:
  Console(asio::io_context& io, net::Server& server, const ConsoleConfig& config,
          std::shared_ptr<LogFeed> feed);
  ~Console() override;

  // Routes on the HTTP listener and the event subscription. Before server.listen(); an error
  // when the console has no listener to use.
  tl::expected<void, std::string> attach();
  // Binds its own listener, if it has one (after server.listen()) and logs where it serves.
  tl::expected<void, std::string> listen();
  void start();
  // With the server's stop: its own listener closes, live-log streams end.
  void stop();

  void connected(const events::Connected& e) override;
  void tls_established(const events::TlsEstablished& e) override;
  void outbound_opened(const events::OutboundOpened& e) override;
  void rejected(const events::Rejected& e) override;
  void transaction(const events::Transaction& e) override;
  void delivery(const events::Delivery& e) override;

 private:
  using Response = net::HttpResponse;
  using Request = net::HttpRequest;
  asio::awaitable<Response> handle(const Request& req);
  asio::awaitable<Response> api(const Request& req);
  asio::awaitable<Response> login(const Request& req);
  Response page(const Request& req) const;
  // The queue endpoints (console_queue.cpp).
  asio::awaitable<Response> queue_list(const Request& req);
  asio::awaitable<Response> queue_show(const std::string& id);
  asio::awaitable<Response> queue_dsn(const std::string& id);
  asio::awaitable<Response> queue_action(const std::string& id, const std::string& action,
                                         const std::string& who);
  asio::awaitable<Response> bulk(const Request& req, const std::string& who);
  Response flush(const Request& req, const std::string& who);
  asio::awaitable<Response> overview();
  // GET /api/v1/destinations (console_destinations.cpp).
  asio::awaitable<Response> destinations(const Request& req);
  Response live_log(const Request& req);
  // The delivery history (console_deliveries.cpp): /deliveries and /deliveries/ID.
  asio::awaitable<Response> deliveries(const Request& req, const std::string& path);
  asio::awaitable<void> stream_log(net::Transport& t, const std::string& filter,
                                   std::uint64_t after);
  // One action's result as a JSON object, and its HTTP status.
  asio::awaitable<std::pair<int, std::string>> act(const std::string& id,
                                                   const std::string& action);

  asio::io_context& io_;
  net::Server& server_;
  // A copy: [console] is read at start only (a SIGHUP reload replaces the running Config).
  const ConsoleConfig cfg_;
  std::shared_ptr<LogFeed> feed_;
  net::HttpConfig own_cfg_;               // its own listener's, with the TLS context provider
  std::unique_ptr<net::HttpServer> own_;  // its own listener, or null (the metrics one)
  net::HttpServer* http_ = nullptr;       // the one it serves on
  SessionStore sessions_;
  policy::AuthThrottle throttle_;
  ActivitySeries activity_;
  // Since start: inbound sessions, how many of them went TLS, rejects by verb and reply code
  // (few values: the reply table's codes and SMTP's verbs, never an address).
  RejectReasons reasons_;  // inbound rejects by verb, code and enhanced status
  std::uint64_t inbound_ = 0, inbound_tls_ = 0;
  std::uint64_t outbound_opened_ = 0, outbound_tls_ = 0;  // connections opened since start
  std::map<std::string, std::uint64_t> rejects_;
  std::size_t logins_running_ = 0;  // password checks on the pool now
  std::size_t streams_ = 0;         // live-log streams open now
  bool stopping_ = false;
};

// A JSON answer: {"error": message} for errors (exposed for the tests).
net::HttpResponse json_response(int status, std::string body);
net::HttpResponse json_error(int status, const std::string& message);

}  // namespace taube::console
