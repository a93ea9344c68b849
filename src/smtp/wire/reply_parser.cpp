#include "smtp/wire/reply_parser.hpp"

#include "smtp/wire/ascii.hpp"

namespace taube::smtp {

namespace {

// 1*3digit followed by `stop` (or the end when stop is 0); returns the octets used, or 0.
std::size_t digits_then(std::string_view s, std::size_t at, char stop) {
  std::size_t n = 0;
  while (at + n < s.size() && n < 4 && is_ascii_digit(s[at + n])) ++n;
  if (n == 0 || n > 3) return 0;
  if (stop == 0) return (at + n == s.size() || s[at + n] == ' ') ? n : 0;
  return (at + n < s.size() && s[at + n] == stop) ? n : 0;
}

}  // namespace

std::size_t enhanced_code_length(std::string_view text, char class_digit) {
  // RFC 3463 §3.1 / RFC 2034 §3: the class of the enhanced code equals the reply's first digit;
  // a "5.x.x" after a 250 is not an enhanced code (it stays in the text, nothing is lost).
  if (text.size() < 5 || text[0] != class_digit || text[1] != '.') return 0;
  const std::size_t subject = digits_then(text, 2, '.');
  if (subject == 0) return 0;
  const std::size_t detail = digits_then(text, 3 + subject, 0);
  if (detail == 0) return 0;
  return 3 + subject + detail;
}

std::string_view describe(ReplyParseError error) {
  switch (error) {
    case ReplyParseError::None:
      return "no error";
    case ReplyParseError::BadCode:
      return "malformed reply code";
    case ReplyParseError::CodeMismatch:
      return "reply code changed within a multi-line reply";
    case ReplyParseError::BadOctet:
      return "NUL or bare CR in a reply line";
    case ReplyParseError::LineTooLong:
      return "reply line too long";
    case ReplyParseError::TooManyLines:
      return "too many lines in a multi-line reply";
  }
  return "unknown reply parse error";
}

ReplyParser::ReplyParser(ReplyParserLimits limits) : limits_(limits) {}

std::string_view ReplyParser::error_reason() const {
  return failed() ? describe(error_) : std::string_view{};
}

std::optional<ParsedReply> ReplyParser::next() {
  if (queue_.empty()) return std::nullopt;
  ParsedReply r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

std::size_t ReplyParser::feed(std::span<const char> in) {
  std::size_t i = 0;
  for (; i < in.size() && !failed(); ++i) {
    const char c = in[i];
    if (c == '\n') {
      // A CRLF, or a bare LF (accepted): the CR is not part of the line.
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (!end_line()) break;
      continue;
    }
    // RFC 5321 §2.3.8: CR only as part of CRLF. NUL has no place in a textstring (§4.2).
    if (c == '\0' || (!line_.empty() && line_.back() == '\r')) {
      fail(ReplyParseError::BadOctet);
      break;
    }
    // A CR after max_line octets may still be the line's end: it is held, not counted.
    if (c != '\r' && line_.size() >= limits_.max_line) {
      fail(ReplyParseError::LineTooLong);
      break;
    }
    line_.push_back(c);
  }
  return i;
}

bool ReplyParser::end_line() {
  const std::string_view line = line_;
  // Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2), then SP, "-" or the end of the line.
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
      !is_ascii_digit(line[2]) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    fail(ReplyParseError::BadCode);
    return false;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  const bool first = current_.lines.empty();
  if (!first && code != current_.reply.code) {
    fail(ReplyParseError::CodeMismatch);
    return false;
  }
  if (current_.lines.size() >= limits_.max_lines) {
    fail(ReplyParseError::TooManyLines);
    return false;
  }
  const bool more = line.size() > 3 && line[3] == '-';
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (first) {
    current_.reply.code = code;
    // RFC 2034 §3: with ENHANCEDSTATUSCODES every line of the reply starts with the code; the
    // first line decides whether the reply has one.
    const std::size_t n = enhanced_code_length(text, line[0]);
    current_.reply.enhanced.assign(text.substr(0, n));
  } else {
    current_.reply.text.push_back('\n');
  }
  // Strip the enhanced code from each line that carries it (not from a line that lacks it:
  // some servers put it on the first line only).
  const std::string& enh = current_.reply.enhanced;
  if (!enh.empty() && text.starts_with(enh) &&
      (text.size() == enh.size() || text[enh.size()] == ' ')) {
    text.remove_prefix(text.size() == enh.size() ? enh.size() : enh.size() + 1);
  }
  current_.reply.text.append(text);
  current_.lines.emplace_back(line);
  line_.clear();
  if (!more) {
    queue_.push_back(std::move(current_));
    current_ = ParsedReply{};
  }
  return true;
}

}  // namespace taube::smtp
