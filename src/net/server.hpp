// Server: wires the parts together and owns them: listeners, the worker pool, the Maildir store
// with its delivery journal, the message sinks, policy, connection accounting, credentials, the
// observer list; and the graceful stop. One io_context thread runs every connection as a
// coroutine (no thread per connection); disk work goes to the worker pool.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

#include "crypto/openssl_sasl.hpp"
#include "events/observer.hpp"
#include "net/connection_context.hpp"
#include "net/connection_registry.hpp"
#include "net/http_server.hpp"
#include "net/listener.hpp"
#include "net/queue_runner.hpp"
#include "net/resolver.hpp"
#include "net/server_config.hpp"
#include "policy/directory.hpp"
#include "policy/session_policy.hpp"
#include "store/journaled_delivery.hpp"
#include "store/maildir_store.hpp"
#include "store/message_sink.hpp"
#include "store/queue_store.hpp"

namespace taube::net {

class ControlServer;

class Server {
 public:
  Server(asio::io_context& io, ServerConfig config, policy::Directory directory);
  ~Server();

  // Subscribers of the session events (the log line, metrics). Before start().
  void observe(events::Observer& o) { observers_.add(o); }

  // Binds every listener. The bound addresses (with the real port for port 0) are logged as
  // "listening on ADDR:PORT" and returned by endpoints().
  tl::expected<void, std::string> listen();
  void start();
  // Graceful stop: no new connections; idle sessions get 421 4.3.2; transactions in flight may
  // finish until shutdown_grace, then every connection is closed.
  void stop();
  // Removes stale temp files of every Maildir under the mail root (start-up).
  void clean_maildirs();
  // Opens the delivery journal (if configured), delivers what a crash left in it and starts its
  // publisher. Before listen().
  tl::expected<void, std::string> open_journal();
  // Reads the outbound queue (what a restart left in it is delivered). Before start().
  tl::expected<void, std::string> open_queue();
  QueueRunner* queue() { return runner_.get(); }
  // The worker pool, for blocking work of the parts above net (the web console).
  asio::thread_pool& pool() { return pool_; }
  // The certificate and users file in use (replaced by load_credentials on SIGHUP).
  const Credentials& credentials() const { return creds_; }
  // Loads (or reloads, on SIGHUP) the TLS certificate and the users file. On a reload error the
  // old ones stay in use.
  tl::expected<void, std::string> load_credentials();

  const std::vector<asio::ip::tcp::endpoint>& endpoints() const { return endpoints_; }
  bool stopping() const { return stopping_; }
  const ServerConfig& config() const { return cfg_; }
  std::size_t connections() const { return registry_.size(); }
  // The operator's HTTP listener ([metrics] listen), null when it is off. Routes are added
  // before listen(); it is bound after the SMTP listeners, started and stopped with them.
  HttpServer* http() { return http_.get(); }
  const asio::ip::tcp::endpoint& http_endpoint() const { return http_endpoint_; }

 private:
  asio::io_context& io_;
  crypto::OpenSslSasl sasl_crypto_;  // before cfg_: the session configuration points to it
  ServerConfig cfg_;
  policy::Directory dir_;
  policy::RecipientPolicy recipients_;
  policy::SessionPolicy policy_;
  policy::ConnectionLimiter limiter_;
  policy::AuthThrottle throttle_;
  store::MaildirStore store_;
  asio::thread_pool pool_;
  std::unique_ptr<store::JournaledDelivery> journal_;  // after pool_: stopped before it joins
  store::QueueStore queue_store_;  // before the relay spool sink that files into it
  // Discard mode: null sinks. Otherwise Maildirs (with the journal) and the relay spool.
  std::unique_ptr<store::MessageSink> mailbox_sink_, queue_sink_;
  store::RoutingSink sink_;
  std::unique_ptr<Resolver> resolver_;      // DNS for MX delivery (null if it cannot start)
  std::unique_ptr<QueueRunner> runner_;     // null in discard mode
  std::unique_ptr<ControlServer> control_;  // the queue's control socket (taube queue)
  Credentials creds_;
  events::ObserverList observers_;
  ConnectionRegistry registry_;
  bool stopping_ = false;
  ConnectionContext ctx_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  asio::steady_timer grace_timer_;
  std::unique_ptr<HttpServer> http_;
  asio::ip::tcp::endpoint http_endpoint_;
};

}  // namespace taube::net
