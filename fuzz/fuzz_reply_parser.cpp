// Fuzz target: the client's reply parser (reply_parser.hpp), fed the octets a server might send.
//
// Input byte 0 picks the limits: bit 0 set gives small ones (max_line 4..35 from bits 1-5,
// max_lines 1..4 from bits 6-7), else the defaults. Bytes 1 and 2 seed two ways of splitting the
// rest into feed() calls.
//
// Invariants (abort on violation):
//  * the whole input and both splits give the same replies, consumed count and error;
//  * without an error everything is consumed; with one, nothing after it (a later feed() is 0);
//  * every reply is well-formed: a valid code, 1..max_lines lines of at most max_line octets,
//    each starting with the code and "-" (all but the last) or SP / nothing (the last), one text
//    line per raw line, no CR or NUL in the text, an enhanced code of the reply's class or none;
//  * append_reply() of a parsed reply parses back (a fresh parser, max_line raised by the room
//    the enhanced code may take on lines that lacked it) as exactly one reply with the same code,
//    enhanced code and text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "smtp/wire/reply.hpp"
#include "smtp/wire/reply_parser.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

namespace {

struct Run {
  std::vector<ParsedReply> replies;
  std::size_t consumed = 0;
  ReplyParseError error = ReplyParseError::None;
};

Run run(std::span<const char> in, const ReplyParserLimits& limits, SplitRng* rng) {
  ReplyParser p(limits);
  Run r;
  std::size_t used = 0;
  while (used < in.size()) {
    const std::size_t len = rng ? rng->piece(in.size() - used) : in.size() - used;
    const std::size_t n = p.feed(in.subspan(used, len));
    TAUBE_FUZZ_CHECK(n <= len);
    r.consumed += n;
    while (auto reply = p.next()) r.replies.push_back(std::move(*reply));
    if (n < len) {
      TAUBE_FUZZ_CHECK(p.failed());
      break;
    }
    used += len;
  }
  if (p.failed()) TAUBE_FUZZ_CHECK(p.feed(in) == 0 && !p.error_reason().empty());
  TAUBE_FUZZ_CHECK(p.queued() == 0);
  r.error = p.error();
  return r;
}

void check_reply(const ParsedReply& pr, const ReplyParserLimits& limits) {
  const Reply& r = pr.reply;
  TAUBE_FUZZ_CHECK(r.code >= 200 && r.code <= 559 && r.code / 10 % 10 <= 5);
  TAUBE_FUZZ_CHECK(!pr.lines.empty() && pr.lines.size() <= limits.max_lines);
  std::size_t newlines = 0;
  for (const char c : r.text) {
    TAUBE_FUZZ_CHECK(c != '\r' && c != '\0');
    if (c == '\n') ++newlines;
  }
  TAUBE_FUZZ_CHECK(newlines + 1 == pr.lines.size());
  const std::string code = std::to_string(r.code);
  for (std::size_t i = 0; i < pr.lines.size(); ++i) {
    const std::string& l = pr.lines[i];
    TAUBE_FUZZ_CHECK(l.size() <= limits.max_line && l.size() >= 3);
    TAUBE_FUZZ_CHECK(l.compare(0, 3, code) == 0);
    if (i + 1 < pr.lines.size()) {
      TAUBE_FUZZ_CHECK(l.size() >= 4 && l[3] == '-');
    } else {
      TAUBE_FUZZ_CHECK(l.size() == 3 || l[3] == ' ');
    }
    TAUBE_FUZZ_CHECK(l.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
  }
  if (!r.enhanced.empty())
    TAUBE_FUZZ_CHECK(enhanced_code_length(r.enhanced, code[0]) == r.enhanced.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t opt = data[0];
  ReplyParserLimits limits;
  if (opt & 1) {
    limits.max_line = 4 + ((opt >> 1) & 31);
    limits.max_lines = 1 + (opt >> 6);
  }
  SplitRng rng1(data[1]), rng2(data[2]);
  const auto in = taube::fuzz::as_chars(data + 3, size - 3);

  const Run whole = run(in, limits, nullptr);
  for (SplitRng* rng : {&rng1, &rng2}) {
    const Run split = run(in, limits, rng);
    TAUBE_FUZZ_CHECK(split.consumed == whole.consumed);
    TAUBE_FUZZ_CHECK(split.error == whole.error);
    TAUBE_FUZZ_CHECK(split.replies == whole.replies);
  }
  if (whole.error == ReplyParseError::None) {
    TAUBE_FUZZ_CHECK(whole.consumed == in.size());
  } else {
    TAUBE_FUZZ_CHECK(whole.consumed < in.size());
  }

  // "5.999.999 " is the most the enhanced code adds to a line that did not carry it.
  ReplyParserLimits again = limits;
  again.max_line = limits.max_line + 16;
  for (const ParsedReply& pr : whole.replies) {
    check_reply(pr, limits);
    std::string wire;
    append_reply(wire, pr.reply);
    ReplyParser p(again);
    TAUBE_FUZZ_CHECK(p.feed(wire) == wire.size());
    TAUBE_FUZZ_CHECK(!p.failed() && p.queued() == 1 && !p.partial());
    const auto back = p.next();
    TAUBE_FUZZ_CHECK(back && back->reply == pr.reply);
    TAUBE_FUZZ_CHECK(back->lines.size() == pr.lines.size());
  }
  return 0;
}
