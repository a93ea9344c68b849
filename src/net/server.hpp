// Server: listeners, connection accounting, graceful shutdown. One io_context thread runs every
// connection as a coroutine (no thread per connection); disk work goes to a worker pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

#include "net/cidr.hpp"
#include "smtp/session.hpp"
#include "store/directory.hpp"
#include "store/maildir_store.hpp"

namespace taube::net {

struct ListenerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2525;
};

struct ServerConfig {
  std::vector<ListenerConfig> listeners = {ListenerConfig{}};
  smtp::SessionConfig session;
  std::size_t max_connections = 1000;
  std::size_t max_connections_per_ip = 50;
  // RFC 5321 §4.5.3.2.7: at least 5 minutes awaiting a command.
  std::chrono::milliseconds command_timeout = std::chrono::minutes(5);
  // Waiting for the next block of message content (RFC 5321 §4.5.3.2.6 gives the client 3 min per
  // block and 10 min for the final reply; a server should be at least as patient).
  std::chrono::milliseconds data_timeout = std::chrono::minutes(10);
  std::vector<Cidr> bare_newline_exempt;
  std::size_t worker_threads = 8;
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  bool discard = false;  // protocol-only mode: accept and drop (benchmarks)
};

class Connection;

class Server {
 public:
  Server(asio::io_context& io, ServerConfig config, store::Directory directory);
  ~Server();

  // Binds every listener. The bound addresses (with the real port for port 0) are logged as
  // "listening on ADDR:PORT" and returned by endpoints().
  tl::expected<void, std::string> listen();
  void start();
  // Graceful stop: no new connections; idle sessions get 421 4.3.2; transactions in flight may
  // finish until shutdown_grace, then every connection is closed.
  void stop();
  // Removes stale temp files of every Maildir under the mail root (start-up).
  void clean_maildirs();

  const std::vector<asio::ip::tcp::endpoint>& endpoints() const { return endpoints_; }

  // For connections.
  const ServerConfig& config() const { return cfg_; }
  const store::Directory& directory() const { return dir_; }
  store::MaildirStore& store() { return store_; }
  asio::thread_pool& pool() { return pool_; }
  bool stopping() const { return stopping_; }
  // Accounting: returns false (and counts nothing) when over a limit.
  bool admit(const std::string& ip);
  void release(const std::string& ip);
  std::list<Connection*>::iterator enroll(Connection* c);
  void withdraw(std::list<Connection*>::iterator it);

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor);

  asio::io_context& io_;
  ServerConfig cfg_;
  store::Directory dir_;
  store::MaildirStore store_;
  asio::thread_pool pool_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  std::list<Connection*> connections_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  std::size_t total_ = 0;
  bool stopping_ = false;
  asio::steady_timer grace_timer_;
};

}  // namespace taube::net
