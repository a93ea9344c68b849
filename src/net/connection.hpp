// Connection: one client. Owns the socket, the buffers and the timer, and drives a
// smtp::ServerSession: read -> session.receive() -> events, lookups, commits -> one write of all
// replies when the input is drained (RFC 2920 §3.1: the server may batch its responses).
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include "net/message_spool.hpp"
#include "net/read_buffer.hpp"
#include "smtp/server/server_session.hpp"
#include "store/scram.hpp"

namespace taube::net {

class Server;
struct ListenerConfig;

class Connection {
 public:
  // `peer`: the client's endpoint as accept() gave it.
  Connection(Server& server, const ListenerConfig& listener, asio::ip::tcp::socket socket,
             const asio::ip::tcp::endpoint& peer);
  ~Connection();

  asio::awaitable<void> run();
  // Server shutdown: wakes the connection if it is idle between transactions.
  void interrupt();
  // Server shutdown after the grace period: closes the socket.
  void force_close();

 private:
  asio::awaitable<void> process_input();
  asio::awaitable<void> handle_events();
  asio::awaitable<void> commit();
  void resolve_lookup();
  void resolve_sender();
  void resolve_recipient();
  asio::awaitable<void> authenticate();
  // SCRAM-SHA-256 steps (RFC 5802 §5): false when the exchange failed.
  bool scram_first();
  bool scram_final();
  asio::awaitable<void> auth_failed(const smtp::AuthRequest& req);
  // TLS handshake (implicit TLS at connect, or after STARTTLS). False: close the connection.
  asio::awaitable<bool> start_tls();
  asio::awaitable<bool> flush();
  // Reads more input; returns false on EOF, error or timeout (after queueing the 421).
  asio::awaitable<bool> read_more();
  bool read_timed_out(bool in_message);
  // Starts the per-operation deadline: on expiry the socket's operations are cancelled.
  void arm_timer(std::chrono::milliseconds d);
  void arm_timer_at(std::chrono::steady_clock::time_point deadline);
  void disarm_timer() {
    ++timer_generation_;
    timer_.cancel();
  }
  // The pregreet test: true when the client sends before our 220 (within pregreet_delay).
  asio::awaitable<bool> talks_before_greeting();
  void begin_message(const smtp::Envelope& env);
  void log_transaction(const smtp::Reply& result);
  void log_reject(const smtp::Event& ev);

  Server& srv_;
  const ListenerConfig& listener_;
  asio::ip::tcp::socket sock_;
  // After STARTTLS (or for implicit TLS) the socket moves into this stream.
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;  // kept alive for this connection
  bool start_tls_ = false;                       // STARTTLS accepted: handshake next
  asio::steady_timer timer_;
  std::string ip_;
  asio::ip::address addr_;
  bool admitted_ = false;
  smtp::ServerSession session_;
  ReadBuffer buf_;
  std::size_t start_ = 0, end_ = 0;  // unconsumed input is buf_[start_, end_)
  bool idle_wait_ = false;           // blocked reading between transactions
  bool timed_out_ = false;           // the armed deadline expired
  std::uint64_t timer_generation_ = 0;
  // Progress deadline of the current phase (command or message content), see read_more().
  std::chrono::steady_clock::time_point deadline_{};
  bool deadline_in_message_ = false;
  bool progress_ = true;
  std::uint64_t bytes_since_deadline_ = 0;
  std::optional<MessageSpool> spool_;
  // Between the SCRAM server-first and client-final messages (allocated only then).
  struct ScramExchange {
    store::ScramSecret secret;
    bool known_user = false;  // false: a stand-in secret, the proof can never match
    std::string server_first;
    std::string nonce;  // client nonce + server nonce
  };
  std::unique_ptr<ScramExchange> scram_;
  std::string queue_id_;
  std::string tx_from_, tx_to_;  // for the transaction log line
  std::chrono::steady_clock::time_point tx_start_;
  std::list<Connection*>::iterator registry_;
};

}  // namespace taube::net
