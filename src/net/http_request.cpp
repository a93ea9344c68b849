#include "net/http_request.hpp"

#include <strings.h>

namespace taube::net {

namespace {

HttpRequestParser& self(http_parser* p) {
  return *static_cast<HttpRequestParser*>(p->data);
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return &v;
  return nullptr;
}

HttpRequestParser::HttpRequestParser(const HttpLimits& limits) : limits_(limits) {
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = &on_message_begin;
  settings_.on_url = &on_url;
  settings_.on_header_field = &on_header_field;
  settings_.on_header_value = &on_header_value;
  settings_.on_headers_complete = &on_headers_complete;
  settings_.on_body = &on_body;
  settings_.on_message_complete = &on_message_complete;
  reset();
}

void HttpRequestParser::reset() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  req_ = HttpRequest{};
  state_ = State::Incomplete;
  started_ = false;
  in_value_ = false;
  header_bytes_ = 0;
  headers_done_ = false;
  error_status_ = 0;
  error_.clear();
}

void HttpRequestParser::fail(int status, std::string why) {
  if (state_ == State::Error) return;
  state_ = State::Error;
  error_status_ = status;
  error_ = std::move(why);
}

// The request line and headers are limited in raw octets (separators included), and the parser
// is never shown an octet past the limit: so whether a request gets 431 or (for a bad octet
// beyond the limit) 400 does not depend on how TCP cut it into reads. Counting what the
// callbacks deliver instead would: libhttp-parser hands over a partial field at the end of each
// buffer, but never for a buffer in which it finds an error first (found by fuzz_http_request).
std::size_t HttpRequestParser::feed(std::string_view data) {
  if (state_ != State::Incomplete || data.empty()) return 0;
  started_ = true;
  std::size_t total = 0;
  while (total < data.size() && state_ == State::Incomplete) {
    std::string_view chunk = data.substr(total);
    if (!headers_done_) {
      if (header_bytes_ >= limits_.max_header_bytes) {
        fail(431, "request line and headers longer than " +
                      std::to_string(limits_.max_header_bytes) + " octets");
        break;
      }
      chunk = chunk.substr(0, limits_.max_header_bytes - header_bytes_);
    }
    const bool in_headers = !headers_done_;
    const std::size_t n = http_parser_execute(&parser_, &settings_, chunk.data(), chunk.size());
    if (in_headers) header_bytes_ += n;  // past the headers' end too: no longer looked at
    total += n;
    const auto err = HTTP_PARSER_ERRNO(&parser_);
    // HPE_PAUSED: on_message_complete stopped the parser at the end of this request.
    if (state_ == State::Incomplete && err != HPE_OK && err != HPE_PAUSED) {
      // RFC 9112 §3: a request line longer than the parser takes is answered like long
      // headers.
      const int status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
      fail(status, std::string(http_errno_description(err)));
    }
    if (n < chunk.size()) break;  // the request ended, or an error
  }
  return total;
}

int HttpRequestParser::on_message_begin(http_parser*) {
  return 0;
}

int HttpRequestParser::on_url(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  s.req_.target.append(at, n);
  return 0;
}

int HttpRequestParser::on_header_field(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  // A trailer section after a chunked body (RFC 9112 §7.1.2) is discarded, as RFC 9110 §6.5.1
  // allows: no route reads one, and it is outside the header limit (libhttp-parser bounds it
  // by its own HTTP_MAX_HEADER_SIZE).
  if (s.headers_done_) return 0;
  // A field may arrive in pieces (the data was split); a new one starts after a value.
  if (s.in_value_ || s.req_.headers.empty()) s.req_.headers.emplace_back();
  s.in_value_ = false;
  s.req_.headers.back().first.append(at, n);
  return 0;
}

int HttpRequestParser::on_header_value(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.headers_done_) return 0;  // a trailer (above)
  s.in_value_ = true;
  if (s.req_.headers.empty()) s.req_.headers.emplace_back();
  s.req_.headers.back().second.append(at, n);
  return 0;
}

int HttpRequestParser::on_headers_complete(http_parser* p) {
  auto& s = self(p);
  s.headers_done_ = true;
  auto& r = s.req_;
  r.method = http_method_str(static_cast<http_method>(p->method));
  r.version_major = p->http_major;
  r.version_minor = p->http_minor;
  if (p->http_major != 1 || p->http_minor > 1) {
    s.fail(505, "HTTP version not supported");
    return -1;
  }
  // A declared body that is too large is refused before it is read (RFC 9110 §15.5.14).
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > s.limits_.max_body) {
    s.fail(413, "request body larger than " + std::to_string(s.limits_.max_body) + " octets");
    return -1;
  }
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(r.target.data(), r.target.size(), 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    s.fail(400, "bad request target");
    return -1;
  }
  r.path = r.target.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  if (u.field_set & (1 << UF_QUERY))
    r.query = r.target.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  r.keep_alive = http_should_keep_alive(p) != 0;
  return 0;
}

int HttpRequestParser::on_body(http_parser* p, const char* at, std::size_t n) {
  auto& s = self(p);
  if (s.req_.body.size() + n > s.limits_.max_body) {
    s.fail(413, "request body larger than " + std::to_string(s.limits_.max_body) + " octets");
    return 1;
  }
  s.req_.body.append(at, n);
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* p) {
  auto& s = self(p);
  if (s.state_ == State::Incomplete) s.state_ = State::Complete;
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace taube::net
