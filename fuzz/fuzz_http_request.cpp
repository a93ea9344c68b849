// Fuzz target: the operator's HTTP request parser (src/net/http_request.hpp: libhttp-parser with
// Taube's limits on top), as the metrics listener drives it: feed() the connection's bytes, and
// after each complete request reset() and go on with the rest (pipelining) until an error or the
// end of the input. Input byte 0 picks options: bit 0 small limits (64 octets of request line and
// headers, 16 of body), bit 1 tiny limits (16 and 0). Byte 1 seeds how the rest is split into
// feed() calls.
//
// Invariants: feed() never claims more than it was given; a complete request has a method, a
// version 1.0 or 1.1, a path taken from its target, a body within max_body and a request line
// plus headers within max_header_bytes; an error is one of 400, 413, 431, 505 with a reason; and
// the outcome (every request and the final state) is the same whether the bytes arrive whole or
// split at any points — a client's TCP segmentation must not change what the server answers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "net/http_request.hpp"

using taube::fuzz::SplitRng;
using taube::net::HttpLimits;
using taube::net::HttpRequest;
using taube::net::HttpRequestParser;

namespace {

struct Outcome {
  std::vector<HttpRequest> requests;
  int error_status = 0;  // 0: no error
  bool incomplete = false;
};

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query &&
         a.headers == b.headers && a.body == b.body && a.version_major == b.version_major &&
         a.version_minor == b.version_minor && a.keep_alive == b.keep_alive;
}

void check_request(const HttpRequest& r, const HttpLimits& limits) {
  TAUBE_FUZZ_CHECK(!r.method.empty());
  TAUBE_FUZZ_CHECK(r.version_major == 1 && r.version_minor <= 1);
  TAUBE_FUZZ_CHECK(r.body.size() <= limits.max_body);
  std::size_t header_bytes = r.target.size();
  for (const auto& [k, v] : r.headers) header_bytes += k.size() + v.size();
  TAUBE_FUZZ_CHECK(header_bytes <= limits.max_header_bytes);
  TAUBE_FUZZ_CHECK(!r.path.empty() && r.target.find(r.path) != std::string::npos);
  TAUBE_FUZZ_CHECK(r.query.empty() || r.target.find(r.query) != std::string::npos);
  // header() finds what the list holds, whatever the case of the name.
  for (const auto& [k, v] : r.headers) {
    std::string upper = k;
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    TAUBE_FUZZ_CHECK(r.header(upper) != nullptr);
  }
}

// Feeds `in` in pieces (whole when `rng` is null), the way HttpServer does.
Outcome run(std::string_view in, const HttpLimits& limits, SplitRng* rng) {
  Outcome out;
  HttpRequestParser p(limits);
  std::size_t pos = 0;
  std::string_view piece;  // the part of the current feed not yet taken
  while (true) {
    if (piece.empty()) {
      if (pos >= in.size()) break;
      const std::size_t n = rng ? rng->piece(in.size() - pos) : in.size() - pos;
      piece = in.substr(pos, n);
      pos += n;
    }
    const std::size_t took = p.feed(piece);
    TAUBE_FUZZ_CHECK(took <= piece.size());
    TAUBE_FUZZ_CHECK(p.started());
    piece.remove_prefix(took);
    if (p.state() == HttpRequestParser::State::Error) {
      out.error_status = p.error_status();
      const int s = out.error_status;
      TAUBE_FUZZ_CHECK(s == 400 || s == 413 || s == 431 || s == 505);
      TAUBE_FUZZ_CHECK(!p.error().empty());
      return out;
    }
    if (p.state() == HttpRequestParser::State::Complete) {
      check_request(p.request(), limits);
      out.requests.push_back(p.request());
      p.reset();
      TAUBE_FUZZ_CHECK(!p.started() && p.state() == HttpRequestParser::State::Incomplete);
      continue;
    }
    // Incomplete: everything offered was taken (only a finished request leaves a rest).
    TAUBE_FUZZ_CHECK(piece.empty());
  }
  out.incomplete = p.started();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  HttpLimits limits;
  if (data[0] & 1) limits = {64, 16};
  if (data[0] & 2) limits = {16, 0};
  const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

  const Outcome whole = run(in, limits, nullptr);
  SplitRng rng(data[1]);
  const Outcome split = run(in, limits, &rng);
  TAUBE_FUZZ_CHECK(whole.error_status == split.error_status);
  TAUBE_FUZZ_CHECK(whole.incomplete == split.incomplete);
  TAUBE_FUZZ_CHECK(whole.requests.size() == split.requests.size());
  for (std::size_t i = 0; i < whole.requests.size(); ++i)
    TAUBE_FUZZ_CHECK(same(whole.requests[i], split.requests[i]));
  return 0;
}
