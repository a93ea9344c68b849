#include "smtp/wire/dot_encoder.hpp"

namespace taube::smtp {

void DotEncoder::line_break(std::string& out) {
  out.append("\r\n");
  octets_ += 2;
  line_start_ = true;
  pending_cr_ = false;
}

void DotEncoder::encode(std::span<const char> in, std::string& out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end) {
    const char c = *p;
    if (pending_cr_) {
      // The held CR: with this LF it is one stored CRLF; otherwise it was a lone CR. Either way
      // one <CRLF> goes out (see the header on bare CR).
      line_break(out);
      if (c == '\n') {
        ++p;
        continue;
      }
    }
    if (c == '\r') {
      pending_cr_ = true;
      ++p;
      continue;
    }
    if (c == '\n') {
      line_break(out);
      ++p;
      continue;
    }
    // RFC 5321 §4.5.2: before sending a line, if its first character is a period, insert one
    // more period at the start of the line.
    if (line_start_ && c == '.' && mode_ == Mode::Data) out.push_back('.');
    // Copy the run of ordinary octets in one append.
    const char* q = p;
    while (q < end && *q != '\r' && *q != '\n') ++q;
    out.append(p, static_cast<std::size_t>(q - p));
    octets_ += static_cast<std::uint64_t>(q - p);
    line_start_ = false;
    p = q;
  }
}

void DotEncoder::finish(std::string& out) {
  if (pending_cr_) line_break(out);
  if (mode_ == Mode::Bdat) return;
  // RFC 5321 §4.1.1.4: the end of data is <CRLF>.<CRLF>; the first <CRLF> ends the last line
  // (for empty content it is the one that ended the DATA command line).
  if (!line_start_) line_break(out);
  out.append(".\r\n");
}

}  // namespace taube::smtp
