#include "smtp/wire/dot_decoder.hpp"

#include <cstring>

namespace taube::smtp {

DotDecoder::DotDecoder(DataDecoderOptions options) : opt_(options) {}

void DotDecoder::emit(std::string& out, const char* p, std::size_t n) {
  // Output is exactly the content up to the first error, whatever the input splits were.
  if (error_ == DataError::None) {
    std::size_t keep = n;
    if (opt_.max_size != 0 && size_ + n > opt_.max_size) {
      keep = size_ >= opt_.max_size ? 0 : static_cast<std::size_t>(opt_.max_size - size_);
      error_ = DataError::TooBig;
    }
    out.append(p, keep);
  }
  size_ += n;
}

void DotDecoder::end_line() {
  // The wire form of a line break is <CRLF>; count it as two octets so the size matches what
  // the client's SIZE= declared (RFC 1870 §3).
  ++size_;
  if (opt_.max_size != 0 && size_ > opt_.max_size && error_ == DataError::None)
    error_ = DataError::TooBig;
  line_len_ = 0;
}

// A <CR> or <LF> that is not part of <CRLF>. In every policy the decoder continues in Text state:
// a bare line break never starts a line for end-of-data detection, so <LF>.<CRLF> and friends
// cannot end the message (SMTP smuggling).
void DotDecoder::bare(std::string& out, char c) {
  (c == '\n' ? bare_lf_ : bare_cr_)++;
  switch (opt_.bare_newline) {
    case BareNewlinePolicy::Reject:
      if (error_ == DataError::None) error_ = DataError::BareNewline;
      break;
    case BareNewlinePolicy::Normalize:
      emit_char(out, '\n');
      line_len_ = 0;
      break;
    case BareNewlinePolicy::Note:
      emit_char(out, c);
      break;
  }
  state_ = State::Text;
}

std::size_t DotDecoder::feed(std::span<const char> in, std::string& out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end && state_ != State::Done) {
    switch (state_) {
      case State::LineStart:
        if (*p == '.') {
          state_ = State::Dot;
          ++p;
          continue;
        }
        state_ = State::Text;
        continue;
      case State::Dot:
        // RFC 5321 §4.5.2: a line starting with '.' had a dot added by the client; remove it.
        if (*p == '\r') {
          state_ = State::DotCr;
          ++p;
          continue;
        }
        line_len_ = 1;  // the wire line includes the stuffed dot
        state_ = State::Text;
        continue;
      case State::DotCr:
        if (*p == '\n') {  // <CRLF>.<CRLF>: the end of data (RFC 5321 §4.1.1.4)
          state_ = State::Done;
          ++p;
          continue;
        }
        line_len_ = 1;
        bare(out, '\r');  // ".<CR>x": the dot was stuffing, the <CR> is bare
        continue;
      case State::Cr:
        if (*p == '\n') {
          emit_char(out, '\n');
          end_line();  // emit counted the LF; end_line adds the <CR>
          state_ = State::LineStart;
          ++p;
          continue;
        }
        bare(out, '\r');
        continue;
      case State::Text: {
        // Fast path: copy the run up to the next <CR> or <LF> in one append.
        const char* q = p;
        while (q < end && *q != '\r' && *q != '\n') ++q;
        if (q > p) {
          const std::size_t n = static_cast<std::size_t>(q - p);
          const bool was_long = line_len_ + 2 > opt_.max_line;
          if (!was_long && line_len_ + n + 2 > opt_.max_line) {
            ++long_lines_;
            if (opt_.reject_long_lines && error_ == DataError::None) {
              // Keep the part of the line that fits, so the output does not depend on splits.
              const std::size_t fits = opt_.max_line - 2 - line_len_;
              emit(out, p, fits);
              if (error_ == DataError::None) error_ = DataError::LineTooLong;
              emit(out, p + fits, n - fits);
              line_len_ += n;
              p = q;
              if (p == end) break;
              if (*p == '\r') {
                state_ = State::Cr;
              } else {
                bare(out, '\n');
              }
              ++p;
              continue;
            }
          }
          line_len_ += n;
          emit(out, p, n);
          p = q;
        }
        if (p == end) break;
        if (*p == '\r') {
          state_ = State::Cr;
        } else {
          bare(out, '\n');
        }
        ++p;
        continue;
      }
      case State::Done:
        break;
    }
  }
  return static_cast<std::size_t>(p - in.data());
}

}  // namespace taube::smtp
