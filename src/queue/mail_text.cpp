#include "queue/mail_text.hpp"

#include <chrono>
#include <cstdio>
#include <vector>

namespace taube::queue {

namespace {

bool is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence (RFC 3629 §4: no overlongs, no surrogates, nothing
// above U+10FFFF) starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  const unsigned c = at(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return is_cont(static_cast<unsigned char>(at(1))) ? 2 : 0;
  unsigned lo = 0x80, hi = 0xBF;
  std::size_t n = 0;
  if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (!is_cont(static_cast<unsigned char>(at(k)))) return 0;
  return n;
}

// Splits `text` (single spaces only) into lines: words joined by a space while the line stays
// within kFoldColumn, a new line (starting with `cont`) otherwise; then any line still over
// kMaxLineOctets is cut. The continuation prefix replaces the space at the break (for header
// folding the prefix is that space, so nothing is lost).
std::string fold(std::string_view text, std::string_view cont) {
  std::vector<std::string> lines;
  std::string line;
  bool line_has_word = false;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t sp = text.find(' ', pos);
    if (sp == std::string_view::npos) sp = text.size();
    const std::string_view word = text.substr(pos, sp - pos);
    pos = sp + 1;
    if (!line_has_word) {
      line += word;
      line_has_word = true;
    } else if (line.size() + 1 + word.size() <= kFoldColumn) {
      line += ' ';
      line += word;
    } else {
      lines.push_back(std::move(line));
      line.assign(cont);
      line += word;
    }
  }
  lines.push_back(std::move(line));

  std::string out;
  for (const std::string& whole : lines) {
    std::string_view l = whole;
    std::string carry;
    while (l.size() > kMaxLineOctets) {
      // The continuation must carry at least one octet of the word: the cut is after `cont`.
      std::string_view head = utf8_prefix(l, kMaxLineOctets);
      if (head.size() <= cont.size()) head = l.substr(0, kMaxLineOctets);
      out += head;
      out += '\n';
      std::string next(cont);
      next += l.substr(head.size());
      carry = std::move(next);
      l = carry;
    }
    out += l;
    out += '\n';
  }
  return out;
}

}  // namespace

std::string clean_text(std::string_view in, TextCharset charset) {
  std::string out;
  out.reserve(in.size());
  bool space = false;  // a space is pending (collapsed run), written before the next visible octet
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      ++i;
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (c < 0x20 || c == 0x7F) {
      out += '?';
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (charset == TextCharset::Ascii) {
      out += '?';
      ++i;
    } else if (const std::size_t n = utf8_sequence(in, i); n > 0) {
      out += in.substr(i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::string header_field(std::string_view name, std::string_view value) {
  // A value built as "type; " + an empty address must not leave a trailing space.
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  std::string line(name);
  line += ':';
  if (!value.empty()) {
    line += ' ';
    line += value;
  }
  // RFC 5322 §2.2.3: folding is a line break inserted before whitespace; the space that starts
  // each continuation line is that whitespace.
  return fold(line, " ");
}

std::string wrap_text(std::string_view text, std::string_view indent) {
  return fold(text, indent);
}

std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  // Back off over continuation octets, then over the lead octet they belong to if the sequence
  // would be cut short.
  while (cut > 0 && is_cont(static_cast<unsigned char>(s[cut]))) --cut;
  return s.substr(0, cut);
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const sys_seconds t{seconds{unix_seconds}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const weekday wd{day};
  const hh_mm_ss hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %u %s %d %02d:%02d:%02d +0000", kDays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

}  // namespace taube::queue
