// Server: listeners, connection accounting, graceful shutdown. One io_context thread runs every
// connection as a coroutine (no thread per connection); disk work goes to a worker pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

#include <asio/ssl/context.hpp>

#include "net/cidr.hpp"
#include "net/tls_context.hpp"
#include "smtp/server/server_session.hpp"
#include "store/directory.hpp"
#include "store/journaled_delivery.hpp"
#include "store/maildir_store.hpp"
#include "store/user_db.hpp"

namespace taube::net {

// How a listener uses TLS: not at all, STARTTLS offered (RFC 3207), STARTTLS required before
// MAIL, or implicit TLS from the first octet (RFC 8314 §3, port 465).
enum class TlsMode { None, StartTls, Required, Implicit };

struct ListenerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2525;
  TlsMode tls = TlsMode::StartTls;  // only effective when a certificate is configured
  bool submission = false;          // RFC 6409: AUTH required before MAIL
  bool auth = true;                 // offer AUTH (when a users file is configured)
  bool plaintext_auth = false;      // also offer AUTH without TLS (not recommended)
};

struct AuthConfig {
  std::string users_file;  // empty: no AUTH anywhere
  std::chrono::milliseconds failure_delay = std::chrono::seconds(1);
  std::size_t max_failures = 5;  // per client IP within `window`, then 421 4.7.0 and a ban
  std::chrono::milliseconds window = std::chrono::minutes(5);
  std::chrono::milliseconds ban = std::chrono::minutes(10);
  bool restrict_sender = true;  // MAIL FROM must be the login's own address (553 5.7.1)
};

struct RelayConfig {
  std::vector<Cidr> networks;  // clients allowed to relay without AUTH (default: none)
  // Accepted relay mail waits here (a Maildir: new/<id> holds the message, env/<id> the
  // envelope) until the outbound queue exists.
  std::string spool = "./var/spool/outbound";
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
  // Disk threads: fsyncs of many sessions in flight together are merged by the file system's
  // journal, so throughput grows with the number of concurrent commits.
  std::size_t worker_threads = 32;
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(30);
  bool discard = false;  // protocol-only mode: accept and drop (benchmarks)
  // The delivery journal (store/delivery_journal.hpp): a 250 once the message is durable there;
  // Maildir files follow in batches. Empty: every message is fsynced into its Maildir directly.
  std::string journal_path;
  std::uint64_t journal_size = 32u << 20;
  // Wait this long before the greeting; a client that talks first is no real MTA (RFC 5321
  // §4.3.1: the client waits for the 220) and gets 554 (like Postfix's postscreen pregreet
  // test). Zero disables the test.
  std::chrono::milliseconds pregreet_delay{0};
  std::optional<TlsConfig> tls;
  AuthConfig auth;
  RelayConfig relay;
};

// Tracks failed AUTH attempts per client IP (RFC 4954 §4 leaves the policy to the server).
class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AuthThrottle(const AuthConfig& c) : cfg_(c) {}
  // Records a failure; returns true when the IP is now banned.
  bool failure(const std::string& ip, Clock::time_point now);
  bool banned(const std::string& ip, Clock::time_point now);

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;
    Clock::time_point banned_until{};
  };
  const AuthConfig& cfg_;
  std::unordered_map<std::string, Entry> entries_;
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
  // Opens the delivery journal (if configured), delivers what a crash left in it and starts its
  // publisher. Before listen().
  tl::expected<void, std::string> open_journal();
  // Loads (or reloads, on SIGHUP) the TLS certificate and the users file. On a reload error the
  // old ones stay in use.
  tl::expected<void, std::string> load_credentials();

  const std::vector<asio::ip::tcp::endpoint>& endpoints() const { return endpoints_; }

  // For connections.
  const ServerConfig& config() const { return cfg_; }
  const store::Directory& directory() const { return dir_; }
  store::MaildirStore& store() { return store_; }
  store::JournaledDelivery* journal() { return journal_.get(); }
  asio::thread_pool& pool() { return pool_; }
  bool stopping() const { return stopping_; }
  std::shared_ptr<asio::ssl::context> tls_context() const { return tls_ctx_; }
  std::shared_ptr<const store::UserDb> users() const { return users_; }
  AuthThrottle& auth_throttle() { return throttle_; }
  bool relay_allowed_from(const asio::ip::address& a) const;
  // Accounting: returns false (and counts nothing) when over a limit.
  bool admit(const std::string& ip);
  void release(const std::string& ip);
  std::list<Connection*>::iterator enroll(Connection* c);
  void withdraw(std::list<Connection*>::iterator it);

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor,
                                    const ListenerConfig& listener);

  asio::io_context& io_;
  ServerConfig cfg_;
  store::Directory dir_;
  store::MaildirStore store_;
  asio::thread_pool pool_;
  std::unique_ptr<store::JournaledDelivery> journal_;  // after pool_: stopped before it joins
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<const ListenerConfig*> acceptor_listeners_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  std::shared_ptr<const store::UserDb> users_;
  AuthThrottle throttle_;
  std::vector<asio::ip::tcp::endpoint> endpoints_;
  std::list<Connection*> connections_;
  std::unordered_map<std::string, std::size_t> per_ip_;
  std::size_t total_ = 0;
  bool stopping_ = false;
  asio::steady_timer grace_timer_;
};

}  // namespace taube::net
