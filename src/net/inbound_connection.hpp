// InboundConnection: one client session. Drives a smtp::ServerSession over a Transport: read ->
// session.receive() -> answer its decisions (policy, the message sink, AUTH) -> one write of all
// replies when the input is drained (RFC 2920 §3.1: the server may batch its responses). Reports
// what happens to the observer. Policy decisions are policy::SessionPolicy's; reply texts are the
// session's; this class only moves octets and waits.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "inet/ip_address.hpp"
#include "net/async_message.hpp"
#include "net/connection_context.hpp"
#include "net/connection_registry.hpp"
#include "net/progress_deadline.hpp"
#include "net/read_buffer.hpp"
#include "net/transport.hpp"
#include "smtp/server/server_session.hpp"

namespace taube::net {

class InboundConnection {
 public:
  // `client`: the address policy sees (the PROXY header's source, or the socket's peer).
  InboundConnection(const ConnectionContext& ctx, const ListenerConfig& listener,
                    std::unique_ptr<Transport> transport, inet::IpAddress client,
                    events::Peer peer);
  ~InboundConnection();

  // `refuse`: the admission phase said no (too many connections, banned, shutting down): the
  // client is told so with this 421 and the connection ends.
  void refuse(smtp::ReplyId id) { refuse_ = id; }
  asio::awaitable<void> run();

  void interrupt();
  void force_close();

 private:
  // inbound_connection.cpp
  asio::awaitable<void> greet();
  asio::awaitable<bool> read_more();
  bool read_ended(const std::error_code& ec, bool in_message);
  asio::awaitable<void> process_input();
  asio::awaitable<void> handle_events();
  asio::awaitable<bool> flush();
  asio::awaitable<bool> handshake_after_starttls();
  void report_disconnect();
  // inbound_message.cpp
  void begin_message(const smtp::Envelope& env);
  asio::awaitable<void> commit();
  std::string trace_headers(const smtp::Envelope& env) const;
  void drop_message();
  // inbound_auth.cpp
  asio::awaitable<void> authenticate();

  const ConnectionContext& ctx_;
  const ListenerConfig& listener_;
  std::unique_ptr<Transport> transport_;
  inet::IpAddress client_;
  events::Peer peer_;
  Credentials creds_;  // the credentials in force when the connection started
  smtp::ServerSession session_;
  ProgressDeadline deadline_;
  ReadBuffer buf_;
  std::size_t start_ = 0, end_ = 0;  // unconsumed input is buf_[start_, end_)
  bool idle_wait_ = false;           // blocked reading between transactions
  bool start_tls_ = false;           // STARTTLS accepted: handshake next
  bool lost_ = false;                // the client went away (EOF, reset) mid-session
  bool timed_out_ = false;
  std::optional<smtp::ReplyId> refuse_;
  asio::steady_timer timer_;  // AUTH failure delay
  std::optional<AsyncMessage> message_;
  std::string queue_id_;
  std::string trace_;  // Return-Path and Received of the message in progress
  std::chrono::steady_clock::time_point tx_start_;
  ConnectionRegistry::Handle registry_;
};

}  // namespace taube::net
