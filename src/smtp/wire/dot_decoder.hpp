// The DATA decoder (RFC 5321 §4.1.1.4, §4.5.2): a byte-level state machine that removes
// dot-stuffing, converts <CRLF> to the store's LF line endings and finds the end of data.
//
// Security: the end of data is ONLY <CRLF>.<CRLF> (the <CRLF> may be the one that ended the DATA
// command line). <LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, <CRLF>.<LF> never end a message, whatever the
// bare-newline policy (SMTP smuggling, CVE-2023-51764). After an error (size, bare newline, long
// line) the decoder keeps consuming to the real terminator with a sticky error, so message content
// is never read as commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace taube::smtp {

// What to do with a <LF> or <CR> that is not part of <CRLF> inside DATA.
enum class BareNewlinePolicy {
  Reject,     // read to the end of data, then 550 5.5.2 (default)
  Normalize,  // store it as a line break
  Note,       // store the octets unchanged, but report them so the caller logs the client
};

struct DataDecoderOptions {
  BareNewlinePolicy bare_newline = BareNewlinePolicy::Reject;
  std::uint64_t max_size = 0;      // decoded octets; 0 = unlimited
  std::size_t max_line = 1000;     // including <CRLF> (RFC 5321 §4.5.3.1.6)
  bool reject_long_lines = false;  // false: accept longer lines unchanged
};

enum class DataError { None, TooBig, BareNewline, LineTooLong };

class DotDecoder {
 public:
  explicit DotDecoder(DataDecoderOptions options = {});

  // Consumes input up to and including the end-of-data line and appends the decoded content to
  // `out` (nothing once an error is sticky). Returns the number of octets consumed; fewer than
  // `in.size()` only when the end was found, and the rest belongs to the command stream.
  std::size_t feed(std::span<const char> in, std::string& out);

  bool done() const { return state_ == State::Done; }
  DataError error() const { return error_; }
  std::uint64_t size() const { return size_; }        // decoded octets (counted even after error)
  std::uint64_t bare_lf() const { return bare_lf_; }  // count of bare <LF>
  std::uint64_t bare_cr() const { return bare_cr_; }  // count of bare <CR>
  std::uint64_t long_lines() const { return long_lines_; }

 private:
  enum class State {
    LineStart,  // at the beginning of a line (after <CRLF>, or the start of data)
    Dot,        // a line started with '.'
    DotCr,      // ".<CR>" at line start: <LF> ends the data
    Text,       // inside a line
    Cr,         // saw <CR> inside a line (or after "."): <LF> makes <CRLF>
    Done,
  };
  void emit(std::string& out, const char* p, std::size_t n);
  void emit_char(std::string& out, char c) { emit(out, &c, 1); }
  void bare(std::string& out, char c);
  void end_line();

  DataDecoderOptions opt_;
  State state_ = State::LineStart;
  DataError error_ = DataError::None;
  std::uint64_t size_ = 0;
  std::size_t line_len_ = 0;
  std::uint64_t bare_lf_ = 0, bare_cr_ = 0, long_lines_ = 0;
};

}  // namespace taube::smtp
