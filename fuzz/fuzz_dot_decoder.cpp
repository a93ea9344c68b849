// Fuzz target: the DATA decoder (dot_decoder.hpp).
//
// Input byte 0 picks the options: bits 0-1 the bare-newline policy (Reject, Normalize, Note,
// Reject), bit 2 a small max_size (8..127 octets), bit 3 reject_long_lines, bit 4 a small
// max_line (4..19 octets). Byte 1 seeds the way the rest is split into feed() calls.
//
// Invariants (abort on violation):
//  * splitting the input never changes the result: consumed count, done, error, size, bare
//    counts, long-line count, and the output (the content up to the first error);
//  * the end of data is found exactly where a reference scan for <CRLF>.<CRLF> finds it (the
//    first <CRLF> may be the virtual one that ended the DATA command) - whatever the policy and
//    limits, so no other sequence (<LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, <CRLF>.<LF>) ends the
//    message (SMTP smuggling);
//  * the output is never longer than the input, nor longer than max_size;
//  * without size/line limits, the decoded output and error equal a reference decoder's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "smtp/wire/dot_decoder.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

namespace {

struct Result {
  std::size_t consumed = 0;
  std::string out;
  bool done = false;
  DataError error = DataError::None;
  std::uint64_t size = 0, bare_lf = 0, bare_cr = 0, long_lines = 0;
};

Result snapshot(const DotDecoder& d, std::size_t consumed, std::string out) {
  return Result{consumed,   std::move(out), d.done(),    d.error(),
                d.size(),   d.bare_lf(),    d.bare_cr(), d.long_lines()};
}

struct Reference {
  std::size_t consumed;  // octets up to and including the terminator, or all
  bool done;
  std::string out;  // decoded content (valid when no error)
  bool bare = false;
};

// A deliberately naive decoder written from RFC 5321 §4.1.1.4 / §4.5.2: the body is everything
// before the first <CRLF>.<CRLF> (with a virtual <CRLF> before the first octet); lines are
// separated by <CRLF> only; one leading dot is removed from each line; any other <CR> or <LF> is
// bare.
Reference reference(std::string_view in, BareNewlinePolicy policy) {
  Reference r{};
  const std::string virt = "\r\n" + std::string(in);
  const auto pos = virt.find("\r\n.\r\n");
  std::string_view body;
  if (pos == std::string::npos) {
    r.done = false;
    r.consumed = in.size();
    body = in;
    // A final <CR> may still become a <CRLF>: the decoder holds it back.
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  } else {
    r.done = true;
    r.consumed = pos + 3;  // in `in` coordinates: pos - 2 + 5
    body = in.substr(0, pos);
  }
  std::size_t start = 0;
  while (start < body.size()) {
    const auto crlf = body.find("\r\n", start);
    const bool complete = crlf != std::string_view::npos;
    std::string_view line = body.substr(start, complete ? crlf - start : std::string_view::npos);
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);
    for (char c : line) {
      if (c == '\r' || c == '\n') {
        r.bare = true;
        if (policy == BareNewlinePolicy::Normalize) {
          r.out.push_back('\n');
          continue;
        }
        if (policy == BareNewlinePolicy::Reject) continue;
      }
      r.out.push_back(c);
    }
    if (!complete) break;
    r.out.push_back('\n');
    start = crlf + 2;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  SplitRng rng(data[1]);
  const auto in = taube::fuzz::as_chars(data + 2, size - 2);
  const std::string_view text(in.data(), in.size());

  DataDecoderOptions o;
  static constexpr BareNewlinePolicy kPolicies[] = {
      BareNewlinePolicy::Reject, BareNewlinePolicy::Normalize, BareNewlinePolicy::Note,
      BareNewlinePolicy::Reject};
  o.bare_newline = kPolicies[opt & 3];
  if (opt & 4) o.max_size = 8 + (opt >> 1);  // 8..135
  o.reject_long_lines = (opt & 8) != 0;
  if (opt & 0x10) o.max_line = 4 + (opt >> 4);  // 5..19

  // Whole.
  DotDecoder whole(o);
  std::string out_whole;
  const std::size_t n_whole = whole.feed(in, out_whole);
  const Result a = snapshot(whole, n_whole, out_whole);

  // Split.
  DotDecoder split(o);
  std::string out_split;
  std::size_t used = 0;
  while (used < in.size() && !split.done()) {
    const std::size_t len = rng.piece(in.size() - used);
    const std::size_t n = split.feed(in.subspan(used, len), out_split);
    TAUBE_FUZZ_CHECK(n <= len);
    used += n;
    // Fewer octets than offered only at the end of data.
    if (n < len) TAUBE_FUZZ_CHECK(split.done());
  }
  // Feeding nothing, or feeding after the end, consumes nothing.
  {
    std::string extra;
    TAUBE_FUZZ_CHECK(split.feed(in.subspan(used), extra) == 0 || !split.done());
    if (split.done()) TAUBE_FUZZ_CHECK(extra.empty());
  }
  const Result b = snapshot(split, used, out_split);

  TAUBE_FUZZ_CHECK(a.consumed == b.consumed);
  TAUBE_FUZZ_CHECK(a.done == b.done);
  TAUBE_FUZZ_CHECK(a.error == b.error);
  TAUBE_FUZZ_CHECK(a.size == b.size);
  TAUBE_FUZZ_CHECK(a.bare_lf == b.bare_lf && a.bare_cr == b.bare_cr);
  TAUBE_FUZZ_CHECK(a.long_lines == b.long_lines);
  // The output is the content up to the first error, whatever the splits (so what the I/O
  // layer has spooled before a MessageAbort never depends on TCP segmentation either).
  TAUBE_FUZZ_CHECK(a.out == b.out);

  for (const Result* r : {&a, &b}) {
    TAUBE_FUZZ_CHECK(r->out.size() <= r->consumed);
    if (o.max_size != 0) TAUBE_FUZZ_CHECK(r->out.size() <= o.max_size);
    if (!r->done) TAUBE_FUZZ_CHECK(r->consumed == in.size());
    if (r->done) {
      const std::string_view eaten = text.substr(0, r->consumed);
      TAUBE_FUZZ_CHECK(taube::fuzz::ends_with(eaten, "\r\n.\r\n") || eaten == ".\r\n");
    }
    if (r->error == DataError::BareNewline)
      TAUBE_FUZZ_CHECK(o.bare_newline == BareNewlinePolicy::Reject && r->bare_lf + r->bare_cr > 0);
    if (r->error == DataError::LineTooLong) TAUBE_FUZZ_CHECK(o.reject_long_lines && r->long_lines > 0);
    if (r->error == DataError::TooBig) TAUBE_FUZZ_CHECK(o.max_size != 0 && r->size > o.max_size);
  }

  // The end of data is where the reference finds it, with any options.
  const Reference ref = reference(text, o.bare_newline);
  TAUBE_FUZZ_CHECK(a.done == ref.done);
  TAUBE_FUZZ_CHECK(a.consumed == ref.consumed);
  TAUBE_FUZZ_CHECK((a.bare_lf + a.bare_cr > 0) == ref.bare);
  if (o.max_size == 0 && !o.reject_long_lines) {
    const DataError want = (ref.bare && o.bare_newline == BareNewlinePolicy::Reject)
                               ? DataError::BareNewline
                               : DataError::None;
    TAUBE_FUZZ_CHECK(a.error == want);
    if (want == DataError::None) TAUBE_FUZZ_CHECK(a.out == ref.out);
    // size_ counts the wire form: decoded octets plus one per <CRLF> (the CR).
    if (want == DataError::None && o.bare_newline != BareNewlinePolicy::Reject) {
      std::uint64_t lines = 0;
      std::string_view body = text.substr(0, a.consumed);
      if (a.done) body.remove_suffix(body.size() >= 5 ? 3 : body.size());
      if (!a.done && !body.empty() && body.back() == '\r') body.remove_suffix(1);
      for (std::size_t p = body.find("\r\n"); p != std::string_view::npos;
           p = body.find("\r\n", p + 2))
        ++lines;
      TAUBE_FUZZ_CHECK(a.size == ref.out.size() + lines);
    }
  }
  return 0;
}
