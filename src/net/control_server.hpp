// ControlServer: the local control socket that `taube queue` talks to (docs/queue-control.md).
// A unix stream socket (mode 0660: root and the taube group), one request per connection:
//
//   request   one line, "<command> [argument ...]\n" (at most 64 KiB; IDs may be many)
//   reply     "ok\n" or "error <reason>\n", then the command's text, then the connection closes
//
// Commands: list, list-json, show ID, why ID, flush [DOMAIN], hold ID..., release ID...,
// delete ID..., requeue ID..., bounce ID.... Everything runs on the event loop through the
// queue runner's administration calls; file reads go to the worker pool. Access control is the
// socket's mode and directory: whoever may connect may administer the queue, as with Postfix's
// postsuper (root) and postqueue (the public pickup is not offered).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

namespace taube::net {

class QueueRunner;

// A parsed request line.
struct ControlRequest {
  std::string command;
  std::vector<std::string> args;
};
// Splits at spaces; an empty line or one with a NUL or a control character is an error.
tl::expected<ControlRequest, std::string> parse_control_request(std::string_view line);

class ControlServer {
 public:
  ControlServer(asio::io_context& io, asio::thread_pool& pool, std::string path,
                QueueRunner& runner);
  ~ControlServer();
  // Binds the socket (a stale one left by a crash is replaced, a live one is an error).
  tl::expected<void, std::string> open();
  void start();
  void close();
  const std::string& path() const { return path_; }

 private:
  using Socket = asio::local::stream_protocol::socket;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::unique_ptr<Socket>& sock);
  asio::awaitable<std::string> run(const ControlRequest& req);

  asio::io_context& io_;
  asio::thread_pool& pool_;
  std::string path_;
  QueueRunner& runner_;
  std::unique_ptr<asio::local::stream_protocol::acceptor> acceptor_;
  bool closing_ = false;
};

}  // namespace taube::net
