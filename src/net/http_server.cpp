#include "net/http_server.hpp"

#include <ctime>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include "net/transport.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

namespace {

// RFC 9110 §5.6.7 IMF-fixdate, required in responses of a server with a clock (§6.6.1).
std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[64];
  const auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  if (r.body.empty() || r.body.back() != '\n') r.body += '\n';
  return r;
}

// One HTTP connection in the registry: stop() ends its read or write at once.
struct HttpConnection {
  Transport& transport;
  void interrupt() { transport.cancel(); }
  void force_close() { transport.cancel(); }
};

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 303:
      return "See Other";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string format_response(const HttpResponse& r, bool keep_alive, bool http10_keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  out += "Date: " + http_date() + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  // Operator data is live: no cache should keep it.
  out += "Cache-Control: no-store\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  if (!keep_alive)
    out += "Connection: close\r\n";
  else if (http10_keep_alive)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

std::string format_stream_head(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  out += "Date: " + http_date() + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Cache-Control: no-store\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  // No length: the body ends when the connection does (RFC 9112 §6.3 rule 8).
  out += "Connection: close\r\n\r\n";
  return out;
}

HttpServer::HttpServer(asio::io_context& io, const HttpConfig& config) : io_(io), cfg_(config) {}

HttpServer::~HttpServer() = default;

void HttpServer::route(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

void HttpServer::route_prefix(const std::string& prefix, AsyncHandler handler) {
  prefix_routes_.emplace_back(prefix, std::move(handler));
}

std::string HttpServer::route_of(const std::string& path) const {
  if (routes_.count(path)) return path;
  for (const auto& [prefix, h] : prefix_routes_)
    if (path.starts_with(prefix)) return prefix;
  return "other";
}

asio::awaitable<HttpResponse> HttpServer::respond(const HttpRequest& req) {
  if (!routes_.count(req.path)) {
    for (const auto& [prefix, h] : prefix_routes_) {
      if (!req.path.starts_with(prefix)) continue;
      HttpResponse r = co_await h(req);
      co_return r;
    }
  }
  co_return dispatch(req);
}

HttpResponse HttpServer::dispatch(const HttpRequest& req) const {
  const auto it = routes_.find(req.path);
  if (it == routes_.end()) return plain(404, "not found: " + req.path);
  // GET only: HEAD would be allowed by RFC 9110 §9.3.2, but nothing here needs it and a scraper
  // never sends it.
  if (req.method != "GET") {
    HttpResponse r = plain(405, "method not allowed: " + req.method);
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  return it->second(req);
}

tl::expected<asio::ip::tcp::endpoint, std::string> HttpServer::bind() {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(cfg_.address, ec);
  if (ec) return tl::unexpected(cfg_.name + ".listen: invalid address '" + cfg_.address + "'");
  const asio::ip::tcp::endpoint ep(addr, cfg_.port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(io_);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && addr.is_v6()) acceptor_->set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor_->set_option(asio::ip::tcp::no_delay(true), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return tl::unexpected(cfg_.name + ": cannot listen on " + cfg_.address + ":" +
                          std::to_string(cfg_.port) + ": " + ec.message());
  }
  return acceptor_->local_endpoint(ec);
}

void HttpServer::start() {
  asio::co_spawn(io_, accept_loop(), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("{} accept loop failed: {}", cfg_.name, ex.what());
    }
  });
}

void HttpServer::stop() {
  stopping_ = true;
  asio::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  registry_.close_all();
}

asio::awaitable<void> HttpServer::accept_loop() {
  asio::steady_timer backoff(io_);
  while (!stopping_) {
    auto [ec, sock] = co_await acceptor_->async_accept(as_tuple(use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      spdlog::warn("{}: accept: {}", cfg_.name, ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(as_tuple(use_awaitable));
      continue;
    }
    // Counted here, not when the coroutine enrolls (later, from the queue of the loop): a burst
    // of accepts must not all pass the check.
    if (open_ >= cfg_.max_connections) {
      sock.close(ec);
      continue;
    }
    ++open_;
    asio::error_code pec;
    const auto remote = sock.remote_endpoint(pec);
    std::string peer = pec ? std::string() : remote.address().to_string();
    // As in Listener: the transport lives in the lambda, not in a by-value coroutine parameter
    // (GCC 12 destroys those twice).
    auto entry = [this, transport = std::make_unique<Transport>(std::move(sock)),
                  peer = std::move(peer)]() mutable -> asio::awaitable<void> {
      co_await serve(transport, peer);
    };
    asio::co_spawn(io_, std::move(entry), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("{} connection failed: {}", cfg_.name, ex.what());
      }
    });
  }
}

asio::awaitable<void> HttpServer::serve(std::unique_ptr<Transport>& transport,
                                        const std::string& peer) {
  HttpConnection conn{*transport};
  const auto handle = registry_.enroll(&conn);
  if (cfg_.tls) {
    // HTTPS (RFC 9110 §4.3.3): the handshake within the request timeout, or no connection.
    const std::shared_ptr<asio::ssl::context> ctx = cfg_.tls();
    const auto deadline = Transport::Clock::now() + cfg_.request_timeout;
    std::string error;
    const bool ok = ctx && co_await transport->start_tls(ctx, deadline, error);
    if (!ok) {
      spdlog::debug("{}: TLS handshake with {} failed: {}", cfg_.name, peer, error);
      registry_.withdraw(handle);
      --open_;
      transport->close();
      co_return;
    }
  }
  HttpRequestParser parser(cfg_.limits);
  std::string pending;  // read but not yet parsed (pipelined requests)
  std::vector<char> buf(16 * 1024);
  bool keep_alive = true;
  bool unread = false;
  for (std::size_t served = 0; keep_alive && !stopping_ && served < cfg_.max_requests;) {
    parser.reset();
    const auto deadline = Transport::Clock::now() + cfg_.request_timeout;
    bool closed = false;
    while (parser.state() == HttpRequestParser::State::Incomplete) {
      if (!pending.empty()) {
        const std::size_t used = parser.feed(pending);
        pending.erase(0, used);
        continue;
      }
      const asio::mutable_buffer room(buf.data(), buf.size());
      auto [ec, n] = co_await transport->read_some(room, deadline);
      if (ec || n == 0) {
        closed = true;
        break;
      }
      pending.assign(buf.data(), n);
    }
    HttpResponse response;
    bool head = false;
    bool http10 = false;
    if (closed) {
      // Timed out in the middle of a request: say so (RFC 9110 §15.5.9). An idle connection,
      // a client that went away or a stop just ends.
      if (!transport->timed_out() || !parser.started() || stopping_) break;
      response = plain(408, "request timeout");
      keep_alive = false;
    } else if (parser.state() == HttpRequestParser::State::Error) {
      response = plain(parser.error_status(), parser.error());
      keep_alive = false;
      unread = true;
    } else {
      HttpRequest& req = parser.request();
      req.peer = peer;
      req.tls = transport->tls();
      head = req.method == "HEAD";
      http10 = req.version_minor == 0;
      keep_alive = req.keep_alive && served + 1 < cfg_.max_requests;
      // A handler that throws must not end the coroutine with the connection still enrolled.
      try {
        response = co_await respond(req);
      } catch (const std::exception& e) {
        spdlog::error("{}: {} {}: {}", cfg_.name, req.method, req.path, e.what());
        response = plain(500, "internal error");
        keep_alive = false;
      }
      ++served;
    }
    if (report_) {
      const bool complete = !closed && parser.state() == HttpRequestParser::State::Complete;
      report_(complete ? route_of(parser.request().path) : "other", response.status);
    }
    if (response.stream) {
      const std::string head_text = format_stream_head(response);
      const auto head_deadline = Transport::Clock::now() + cfg_.request_timeout;
      const asio::const_buffer hb(head_text.data(), head_text.size());
      const auto hec = co_await transport->write_all(hb, head_deadline);
      if (!hec) co_await response.stream(*transport);
      break;
    }
    const std::string wire = format_response(response, keep_alive && !stopping_, http10);
    const std::size_t length = head ? wire.size() - response.body.size() : wire.size();
    const auto write_deadline = Transport::Clock::now() + cfg_.request_timeout;
    const asio::const_buffer out(wire.data(), length);
    const auto wec = co_await transport->write_all(out, write_deadline);
    if (wec) break;
  }
  // Withdrawn only after the polite close: a stop() during its drain cancels it too.
  if (!stopping_) {
    const bool leftover = unread || !pending.empty();
    co_await transport->shutdown(leftover);
  }
  registry_.withdraw(handle);
  --open_;
  transport->close();
}

}  // namespace taube::net
