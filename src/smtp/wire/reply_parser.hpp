// The incremental reply parser for the client side (RFC 5321 §4.2): feed it the octets read from
// the server in whatever pieces the network delivers, take complete replies out in order.
//
//   Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF
//
// Accepted: a code of three digits, the first 2-5 and the second 0-5 (RFC 5321 §4.2), followed by
// "-" (more lines follow), SP or the end of the line ("250" alone is a complete reply). Every line
// of a multi-line reply carries the same code (RFC 5321 §4.2.1), else the stream is broken. Lines
// end in CRLF; a bare LF is accepted too (servers behind line-mangling middleboxes send it, and it
// is unambiguous here), the CR before it is stripped. Text octets other than NUL and CR are kept as
// they are (UTF-8 in replies is allowed by RFC 6531 §3.7.4.2).
//
// Errors are final: once error() is set the parser consumes nothing more and the caller must
// treat the connection as unusable (a reply stream that lost its framing cannot be resynchronised:
// the next reply could be read as the answer to the wrong command).
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/wire/reply.hpp"

namespace taube::smtp {

struct ParsedReply {
  // code; enhanced = the RFC 3463 code when the first line carries one (see ReplyParser);
  // text = the lines' texts joined with '\n', each without its code, separator and enhanced code.
  Reply reply;
  // The raw lines as received, without the line ending, for transcripts and logs.
  std::vector<std::string> lines;
  friend bool operator==(const ParsedReply&, const ParsedReply&) = default;
};

struct ReplyParserLimits {
  // Octets of one reply line, not counting its CRLF (or LF). RFC 5321 §4.5.3.1.5 allows 512
  // including the CRLF; real servers send longer lines (long 5xx explanations, EHLO AUTH lists),
  // so be lenient but bounded: this is also the most the parser buffers for an incomplete line.
  std::size_t max_line = 2048;
  // Lines of one multi-line reply. RFC 5321 sets no limit; an EHLO reply has a few dozen at most.
  std::size_t max_lines = 128;
};

enum class ReplyParseError {
  None,
  BadCode,       // not three digits 2-5, 0-5, 0-9 followed by SP, "-" or the end of the line
  CodeMismatch,  // a line of a multi-line reply with a different code (RFC 5321 §4.2.1)
  BadOctet,      // NUL, or CR not followed by LF (RFC 5321 §2.3.8)
  LineTooLong,   // a line over ReplyParserLimits::max_line
  TooManyLines,  // a reply over ReplyParserLimits::max_lines
};

// A fixed English sentence for logs ("reply line too long").
std::string_view describe(ReplyParseError error);

class ReplyParser {
 public:
  explicit ReplyParser(ReplyParserLimits limits = {});

  // Consumes octets and queues every reply completed by them. Returns the number of octets
  // consumed: in.size(), unless an error is found, in which case the octet that revealed it and
  // everything after it are not consumed (and later calls consume nothing). The total consumed and
  // the replies queued do not depend on how the input was split.
  // (A std::string or std::string_view converts to the span; a string literal would bring its NUL.)
  std::size_t feed(std::span<const char> in);

  // The oldest complete reply not yet taken, if any. Replies completed before an error stay
  // available. Memory: one partial line (max_line) and one partial reply (max_lines lines) at
  // most, plus the queue, which holds what the caller fed and has not taken yet.
  std::optional<ParsedReply> next();

  // Complete replies waiting to be taken.
  std::size_t queued() const { return queue_.size(); }
  // True while part of a reply (a partial line, or the first lines of a multi-line reply) has been
  // consumed but the reply is not complete. A client that receives 220 to STARTTLS must find
  // queued() == 0 and !partial() before the TLS handshake: octets the server sent after the 220
  // were sent in plaintext and must not be read as the first encrypted replies (the client side
  // of CVE-2011-0411, "STARTTLS response injection").
  bool partial() const { return !line_.empty() || !current_.lines.empty(); }

  ReplyParseError error() const { return error_; }
  bool failed() const { return error_ != ReplyParseError::None; }
  // describe(error()), or "" without an error.
  std::string_view error_reason() const;

 private:
  // Processes one complete line (without its line ending); false on error.
  bool end_line();
  void fail(ReplyParseError e) { error_ = e; }

  ReplyParserLimits limits_;
  std::string line_;     // the line being received (may end in a CR awaiting its LF)
  ParsedReply current_;  // the reply being assembled (lines so far)
  std::deque<ParsedReply> queue_;
  ReplyParseError error_ = ReplyParseError::None;
};

// The length of the RFC 3463 enhanced status code at the start of `text` ("2.1.5"), followed by
// SP or the end of `text`, whose class digit equals `class_digit` ('2', '4' or '5'); 0 when there
// is none. status-code = class "." subject "." detail; subject, detail = 1*3digit (RFC 3463 §2).
std::size_t enhanced_code_length(std::string_view text, char class_digit);

}  // namespace taube::smtp
