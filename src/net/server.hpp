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
#include "net/blocking_pool.hpp"
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
class SubmitServer;
struct Generation;

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
  // The certificate and users file of the current generation (SIGHUP reads them again).
  const Credentials& credentials() const;
  const store::JournaledDelivery* delivery_journal() const { return journal_.get(); }  // metrics
  PoolStats::Counts disk_pool() { return pool_stats(pool_).counts(); }                 // metrics
  // Loads the TLS certificate and the users file at start.
  tl::expected<void, std::string> load_credentials();
  // SIGHUP: a new configuration generation (app/config_reload.hpp has already put back what
  // only a restart can change: listeners, mail root, queue place, worker threads...). The
  // certificate and the users file are read again. New connections use the new generation;
  // each open connection keeps the one it started with to its end. The queue's attempts from
  // now on use the new routing, limits and retry times. On an error nothing changes.
  tl::expected<void, std::string> reload(ServerConfig config, policy::Directory directory);

  const std::vector<asio::ip::tcp::endpoint>& endpoints() const { return endpoints_; }
  bool stopping() const { return stopping_; }
  const ServerConfig& config() const;
  std::size_t connections() const { return registry_.size(); }
  // The operator's HTTP listener ([metrics] listen), null when it is off. Routes are added
  // before listen(); it is bound after the SMTP listeners, started and stopped with them.
  HttpServer* http() { return http_.get(); }
  const asio::ip::tcp::endpoint& http_endpoint() const { return http_endpoint_; }

 private:
  std::shared_ptr<Generation> make_generation(ServerConfig config, policy::Directory directory);
  // The ConnectionContext of a generation, sharing its lifetime.
  std::shared_ptr<const ConnectionContext> context_of(const std::shared_ptr<Generation>& g);
  tl::expected<Credentials, std::string> read_credentials(const ServerConfig& cfg) const;

  asio::io_context& io_;
  crypto::OpenSslSasl sasl_crypto_;  // before gen_: the session configuration points to it
  // What a reload replaces: the configuration, the directory, the policies built on them, the
  // credentials. Connections and the queue runner hold on to the generation they use.
  std::shared_ptr<Generation> gen_;
  // As it was at start, for what only a restart changes (listeners, places, threads).
  const ServerConfig cfg_;
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
  std::unique_ptr<SubmitServer> submit_;    // the local submission socket (taube sendmail)
  events::ObserverList observers_;
  ConnectionRegistry registry_;
  bool stopping_ = false;
  std::shared_ptr<const ConnectionContext> ctx_;  // gen_'s; read by the listeners at accept
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  asio::steady_timer grace_timer_;
  std::unique_ptr<HttpServer> http_;
  asio::ip::tcp::endpoint http_endpoint_;
};

}  // namespace taube::net
