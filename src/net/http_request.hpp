// HttpRequestParser: one HTTP/1.1 request (RFC 9112) out of a byte stream, parsed by
// libhttp-parser (Node's former parser, Debian libhttp-parser-dev) rather than by hand: the
// request line, header folding, chunked bodies, Content-Length and the keep-alive rules of
// HTTP/1.0 and 1.1 are its business. On top of it, the limits a small admin server wants: the
// request line and headers together at most max_header_bytes (431), a body at most max_body
// (413), versions 1.0 and 1.1 only (505), anything malformed 400. Pipelined requests: the
// parser stops at the end of each message, feed() says how much it took, and the rest is the
// start of the next request.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace taube::net {

struct HttpRequest {
  std::string method;                                        // "GET"
  std::string target;                                        // as sent: "/metrics?x=1"
  std::string path;                                          // "/metrics"
  std::string query;                                         // "x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  unsigned version_major = 1, version_minor = 1;
  bool keep_alive = false;  // what the client asked for (HTTP/1.1 default, 1.0 on request)
  // Set by the server, not the parser: the client's address ("127.0.0.1", "::1"), and whether
  // the connection is TLS (a console cookie then gets Secure).
  std::string peer;
  bool tls = false;
  // The first header of that name (case-insensitive), or null.
  const std::string* header(std::string_view name) const;
};

struct HttpLimits {
  std::size_t max_header_bytes = 8 * 1024;  // request line + headers
  std::size_t max_body = 64 * 1024;
};

class HttpRequestParser {
 public:
  enum class State { Incomplete, Complete, Error };

  explicit HttpRequestParser(const HttpLimits& limits);
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses what it can of `data`; returns the octets it took (all of them unless the request
  // ended inside `data`, or it failed).
  std::size_t feed(std::string_view data);
  State state() const { return state_; }
  // Something was fed since the last reset() (a timeout then deserves a 408, not silence).
  bool started() const { return started_; }
  // After Error: the status to answer with (400, 413, 431, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  // After Complete.
  const HttpRequest& request() const { return req_; }
  HttpRequest& request() { return req_; }
  // Ready for the next request on the same connection.
  void reset();

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, std::size_t n);
  static int on_header_field(http_parser* p, const char* at, std::size_t n);
  static int on_header_value(http_parser* p, const char* at, std::size_t n);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, std::size_t n);
  static int on_message_complete(http_parser* p);
  void fail(int status, std::string why);

  HttpLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  HttpRequest req_;
  State state_ = State::Incomplete;
  bool started_ = false;
  bool in_value_ = false;  // the last header callback was a value (a field starts a new header)
  std::size_t header_bytes_ = 0;  // raw octets of the request line and headers so far
  bool headers_done_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace taube::net
