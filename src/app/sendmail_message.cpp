#include "app/sendmail_message.hpp"

#include <algorithm>

#include "smtp/wire/ascii.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::app {

namespace {

constexpr std::size_t kMaxLine = 998;  // RFC 5322 §2.1.1, without the CRLF

bool is_wsp(char c) {
  return c == ' ' || c == '\t';
}

// RFC 5322 §3.6.8: a field name is printable ASCII but the colon; §4.5.8 (obsolete syntax)
// allows white space before the colon.
bool field_name_of(const std::string& line, std::string& name) {
  std::size_t i = 0;
  while (i < line.size()) {
    const auto u = static_cast<unsigned char>(line[i]);
    if (u < 33 || u > 126 || line[i] == ':') break;
    ++i;
  }
  if (i == 0) return false;
  std::size_t j = i;
  while (j < line.size() && is_wsp(line[j])) ++j;
  if (j >= line.size() || line[j] != ':') return false;
  name = line.substr(0, i);
  return true;
}

std::string lower(std::string_view s) {
  return smtp::ascii_lower(s);
}

// An addr-spec written without angle brackets: white space (and the spaces comments left) only
// between its tokens, outside quoted strings (RFC 5322 §4.4 obsolete syntax: "bob @ x").
// Empty when the text has words separated by spaces and no '@': a phrase, not an address.
std::string bare_addr_spec(const std::string& text) {
  std::string out;
  bool quoted = false, escaped = false, spaced = false, at = false;
  for (const char c : text) {
    if (quoted) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (is_wsp(c) || c == '\r' || c == '\n') {
      if (!out.empty()) spaced = true;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '@') at = true;
    if (spaced && !at && !out.empty() && out.back() != '.' && c != '.' && c != '@') return {};
    spaced = false;
    out += c;
  }
  return out;
}

// "<@a,@b:x@y>" (an obsolete source route, RFC 5322 §4.4): x@y.
std::string strip_route(std::string s) {
  s = bare_addr_spec(s);
  if (!s.empty() && s.front() == '@') {
    const auto colon = s.find(':');
    s = colon == std::string::npos ? std::string() : s.substr(colon + 1);
  }
  return s;
}

void fold_header_line(const std::string& line, std::vector<std::string>& out) {
  std::string rest = line;
  while (rest.size() > kMaxLine) {
    // The last white space that leaves something on this line: after the field's name and the
    // white space following its colon, or after a continuation's own leading white space.
    std::size_t min = 1;
    if (!is_wsp(rest[0])) {
      min = rest.find(':') + 1;
      while (min < rest.size() && is_wsp(rest[min])) ++min;
    }
    std::size_t cut = std::string::npos;
    for (std::size_t i = std::min(rest.size() - 1, kMaxLine); i > min; --i) {
      if (is_wsp(rest[i])) {
        cut = i;
        break;
      }
    }
    if (cut == std::string::npos) {
      out.push_back(rest.substr(0, kMaxLine));
      rest = " " + rest.substr(kMaxLine);
    } else {
      out.push_back(rest.substr(0, cut));
      rest = rest.substr(cut);
    }
  }
  out.push_back(rest);
}

bool eight_bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

void InputReader::end_line() {
  // sendmail(8): without -i a line with a single dot ends the message.
  if (dot_ends_ && line_ == ".") {
    ended_ = true;
    line_.clear();
    return;
  }
  lines_.push_back(std::move(line_));
  line_.clear();
}

void InputReader::feed(std::string_view chunk) {
  for (const char c : chunk) {
    if (ended_) return;
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // CRLF: the CR ended the line already
    }
    if (c == '\r') {
      end_line();
      after_cr_ = true;
    } else if (c == '\n') {
      end_line();
    } else {
      line_ += c;
    }
  }
}

void InputReader::finish() {
  if (!ended_ && !line_.empty()) end_line();
}

std::string HeaderField::value() const {
  if (lines.empty()) return {};
  std::string v = lines.front().substr(lines.front().find(':') + 1);
  for (std::size_t i = 1; i < lines.size(); ++i) v += lines[i];
  return v;
}

ParsedMessage split_message(std::vector<std::string> lines) {
  ParsedMessage m;
  std::size_t i = 0;
  // An mbox "From sender date" line first: the envelope of a mailbox file, not a header.
  if (!lines.empty() && lines[0].rfind("From ", 0) == 0) i = 1;
  std::string name;
  for (; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty()) {
      ++i;  // the separator
      break;
    }
    if (is_wsp(line[0]) && !m.headers.empty()) {
      m.headers.back().lines.push_back(line);
      continue;
    }
    if (!field_name_of(line, name)) break;  // not a header: the body starts here
    m.headers.push_back({name, {line}});
  }
  m.body.assign(std::make_move_iterator(lines.begin() +
                                        static_cast<std::ptrdiff_t>(std::min(i, lines.size()))),
                std::make_move_iterator(lines.end()));
  return m;
}

std::vector<std::string> parse_address_list(std::string_view value) {
  std::vector<std::string> out;
  std::string text, angle;
  bool in_angle = false, has_angle = false;
  auto flush = [&] {
    const std::string a = has_angle ? strip_route(angle) : bare_addr_spec(text);
    if (!a.empty() && a != "@") out.push_back(a);
    text.clear();
    angle.clear();
    has_angle = in_angle = false;
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '(') {
      // RFC 5322 §3.2.2: comments nest; a backslash quotes the next character.
      int depth = 1;
      for (++i; i < value.size() && depth > 0; ++i) {
        if (value[i] == '\\') {
          ++i;
        } else if (value[i] == '(') {
          ++depth;
        } else if (value[i] == ')') {
          --depth;
        }
      }
      --i;
      (in_angle ? angle : text) += ' ';
    } else if (c == '"') {
      std::string& into = in_angle ? angle : text;
      into += c;
      for (++i; i < value.size(); ++i) {
        into += value[i];
        if (value[i] == '\\' && i + 1 < value.size()) {
          into += value[++i];
        } else if (value[i] == '"') {
          break;
        }
      }
    } else if (in_angle) {
      if (c == '>') {
        in_angle = false;
      } else {
        angle += c;
      }
    } else if (c == '<') {
      in_angle = has_angle = true;
      angle.clear();
    } else if (c == ':') {
      text.clear();  // a group's display name (RFC 5322 §3.4): its members follow
    } else if (c == ',' || c == ';') {
      flush();
    } else {
      text += c;
    }
  }
  flush();
  return out;
}

std::vector<std::string> header_recipients(const ParsedMessage& m) {
  bool resent = false;
  for (const auto& h : m.headers) resent = resent || lower(h.name).rfind("resent-", 0) == 0;
  std::vector<std::string> out;
  for (const auto& h : m.headers) {
    std::string n = lower(h.name);
    if (resent) {
      if (n.rfind("resent-", 0) != 0) continue;
      n = n.substr(7);
    }
    if (n != "to" && n != "cc" && n != "bcc") continue;
    for (auto& a : parse_address_list(h.value())) out.push_back(std::move(a));
  }
  return out;
}

PreparedMessage prepare_message(const ParsedMessage& m, const PrepareInput& in) {
  PreparedMessage p;
  bool from = false, date = false, message_id = false, to_or_cc = false;
  std::vector<std::string> lines;
  for (const auto& h : m.headers) {
    const std::string n = lower(h.name);
    // Blind copies stay blind (RFC 5322 §3.6.3): Postfix's cleanup removes Bcc always.
    if (n == "bcc" || n == "resent-bcc") {
      p.bcc_removed = true;
      continue;
    }
    from = from || n == "from";
    date = date || n == "date";
    message_id = message_id || n == "message-id";
    to_or_cc = to_or_cc || n == "to" || n == "cc";
    for (std::size_t i = 0; i < h.lines.size(); ++i) fold_header_line(h.lines[i], lines);
  }
  // RFC 5322 §3.6: Date and From are required, a Message-ID should be there.
  auto add = [&](const char* name, const std::string& value) {
    fold_header_line(std::string(name) + ": " + value, lines);
    p.added.emplace_back(name);
  };
  if (!from) add("From", in.from);
  if (!date) add("Date", in.date);
  if (!message_id) add("Message-ID", in.message_id);
  // Postfix's undisclosed_recipients_header: a message with no To or Cc left.
  if (!to_or_cc) add("To", "undisclosed-recipients:;");
  lines.emplace_back();
  for (const auto& b : m.body) {
    std::size_t off = 0;
    do {
      lines.push_back(b.substr(off, kMaxLine));
      off += kMaxLine;
    } while (off < b.size());
  }
  std::size_t size = 0;
  for (const auto& l : lines) size += l.size() + 1;
  p.content.reserve(size);
  for (const auto& l : lines) {
    p.content += l;
    p.content += '\n';
  }
  p.eight_bit = eight_bit(p.content);
  return p;
}

std::string from_value(std::string_view full_name, std::string_view address) {
  std::string name;
  for (const char c : full_name)
    if (c != '\r' && c != '\n' && c != '\0') name += c;
  while (!name.empty() && is_wsp(name.back())) name.pop_back();
  while (!name.empty() && is_wsp(name.front())) name.erase(name.begin());
  if (name.empty()) return std::string(address);
  const std::string addr = "<" + std::string(address) + ">";
  if (eight_bit(name)) {
    // RFC 2047 §2: encoded-words of at most 75 characters, split between UTF-8 characters.
    std::string out;
    std::size_t off = 0;
    while (off < name.size()) {
      std::size_t end = std::min(name.size(), off + 45);
      while (end < name.size() && end > off + 1 &&
             (static_cast<unsigned char>(name[end]) & 0xC0) == 0x80)
        --end;
      if (!out.empty()) out += ' ';
      out +=
          "=?UTF-8?B?" + smtp::base64_encode(std::string_view(name).substr(off, end - off)) + "?=";
      off = end;
    }
    return out + " " + addr;
  }
  // RFC 5322 §3.2.3 atext and spaces: a phrase; otherwise a quoted string.
  static constexpr std::string_view kSpecialAtext = "!#$%&'*+-/=?^_`{|}~";
  const bool phrase = std::all_of(name.begin(), name.end(), [](char c) {
    return smtp::is_ascii_alnum(c) || c == ' ' || kSpecialAtext.find(c) != std::string_view::npos;
  });
  if (phrase) return name + " " + addr;
  std::string q = "\"";
  for (const char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\" " + addr;
}

}  // namespace taube::app
