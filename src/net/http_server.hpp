// HttpServer: a small HTTP/1.1 server on the server's own io_context for the operator's
// endpoints (/metrics, /healthz; the web console later), never on an SMTP port. One coroutine
// per connection, like the SMTP listener; requests parsed by libhttp-parser (http_request.hpp);
// reads and writes through the same Transport (deadlines; TLS later) as SMTP.
//
// Rules against misuse (it answers on loopback by default, but a scraper can misbehave too):
// - each request must arrive whole within `request_timeout` of its first octet being awaited
//   (an absolute deadline, not one per read: a slowloris client dripping one octet a second is
//   cut off like a silent one); a started request gets 408, an idle keep-alive connection is
//   closed silently;
// - request line and headers at most HttpLimits::max_header_bytes (431), bodies max_body (413),
//   malformed requests 400, HTTP other than 1.0/1.1 505; every error answer closes the
//   connection (RFC 9112 §9.6: after an error the framing of what follows is unknown);
// - at most max_connections at once (more are closed at accept), and keep-alive for at most
//   max_requests requests per connection.
// Routing: exact paths; a known path with another method is 405 with Allow, an unknown path 404.
// Handlers are synchronous and run on the event loop, so they must be quick (render a text,
// read counters); slow work belongs on the worker pool. Prefix routes (the web console,
// docs/console.md) take every method and every path under their prefix and are coroutines, so
// they can await the worker pool and the queue's administration; a response with `stream` set
// (Server-Sent Events) keeps the connection for the stream and closes it afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <tl/expected.hpp>

#include "net/connection_registry.hpp"
#include "net/http_config.hpp"
#include "net/http_request.hpp"

namespace taube::net {

class Transport;

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
  // Set: after the status line and headers (no Content-Length, Connection: close; `body` is
  // not sent) the connection belongs to this coroutine until it returns, then it is closed.
  std::function<asio::awaitable<void>(Transport&)> stream;
};

// "HTTP/1.1 200 OK\r\n..." with Content-Length, Date, Connection; no body for HEAD.
std::string format_response(const HttpResponse& r, bool keep_alive, bool http10_keep_alive);
// The head of a streamed response (see HttpResponse::stream).
std::string format_stream_head(const HttpResponse& r);
// "Not Found" for 404, ...
const char* reason_phrase(int status);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(asio::io_context& io, const HttpConfig& config);
  ~HttpServer();

  // GET on `path` answered by `handler` (before start()).
  void route(const std::string& path, Handler handler);
  // Every method on every path that starts with `prefix` (before start()); exact routes win.
  using AsyncHandler = std::function<asio::awaitable<HttpResponse>(const HttpRequest&)>;
  void route_prefix(const std::string& prefix, AsyncHandler handler);
  bool stopping() const { return stopping_; }
  // Told of every answer sent: the route's path, or "other" for anything that matched none
  // (unknown paths, malformed requests, timeouts), so that its values stay few.
  using Report = std::function<void(const std::string& route, int status)>;
  void on_response(Report report) { report_ = std::move(report); }
  tl::expected<asio::ip::tcp::endpoint, std::string> bind();
  void start();
  // Closes the listener and every connection at once (nothing here is worth a grace period).
  void stop();
  std::size_t connections() const { return open_; }
  // What a request gets: the handler's answer, 404 or 405 (exposed for the tests).
  HttpResponse dispatch(const HttpRequest& req) const;

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::unique_ptr<Transport>& transport, const std::string& peer);
  asio::awaitable<HttpResponse> respond(const HttpRequest& req);
  // The route a path is counted under: itself, its prefix route, or "other".
  std::string route_of(const std::string& path) const;

  asio::io_context& io_;
  const HttpConfig& cfg_;
  std::map<std::string, Handler> routes_;
  std::vector<std::pair<std::string, AsyncHandler>> prefix_routes_;
  Report report_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  ConnectionRegistry registry_;
  std::size_t open_ = 0;  // connections accepted and not yet closed
  bool stopping_ = false;
};

}  // namespace taube::net
