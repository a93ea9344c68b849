#include "console/request_parse.hpp"

#include <cstdint>

namespace taube::console {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

tl::expected<std::string, std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return tl::unexpected(std::string("bad % escape in the query"));
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return tl::unexpected(std::string("control character in the query"));
    out += c;
  }
  return out;
}

// A strict reader of the JSON subset the API takes (see the header).
class JsonReader {
 public:
  explicit JsonReader(std::string_view t) : t_(t) {}

  tl::expected<JsonObject, std::string> object(std::size_t max_members) {
    JsonObject out;
    ws();
    if (!eat('{')) return fail("expected a JSON object");
    ws();
    if (eat('}')) return finish(std::move(out));
    for (;;) {
      ws();
      auto key = string();
      if (!key) return tl::unexpected(key.error());
      ws();
      if (!eat(':')) return fail("expected ':' after a member name");
      ws();
      auto value = member_value();
      if (!value) return tl::unexpected(value.error());
      if (out.count(*key)) return fail("duplicate member \"" + *key + "\"");
      if (out.size() >= max_members) return fail("too many members");
      out.emplace(std::move(*key), std::move(*value));
      ws();
      if (eat('}')) return finish(std::move(out));
      if (!eat(',')) return fail("expected ',' or '}'");
    }
  }

 private:
  tl::expected<JsonObject, std::string> finish(JsonObject o) {
    ws();
    if (pos_ != t_.size()) return fail("text after the JSON object");
    return o;
  }

  tl::expected<JsonValue, std::string> member_value() {
    if (peek() == '"') {
      auto s = string();
      if (!s) return tl::unexpected(s.error());
      return JsonValue(std::move(*s));
    }
    if (t_.substr(pos_, 4) == "true") {
      pos_ += 4;
      return JsonValue(true);
    }
    if (t_.substr(pos_, 5) == "false") {
      pos_ += 5;
      return JsonValue(false);
    }
    if (!eat('[')) return fail("values must be strings, arrays of strings, true or false");
    std::vector<std::string> items;
    ws();
    if (eat(']')) return JsonValue(std::move(items));
    for (;;) {
      ws();
      auto s = string();
      if (!s) return tl::unexpected(s.error());
      items.push_back(std::move(*s));
      ws();
      if (eat(']')) return JsonValue(std::move(items));
      if (!eat(',')) return fail("expected ',' or ']' in an array");
    }
  }

  // RFC 8259 §7, with \u escapes decoded to UTF-8 (surrogate pairs joined).
  tl::expected<std::string, std::string> string() {
    if (!eat('"')) return fail("expected a string");
    std::string out;
    while (pos_ < t_.size()) {
      const char c = t_[pos_++];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') return out;
      if (u < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= t_.size()) break;
      const char e = t_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return tl::unexpected(cp.error());
          std::uint32_t code = *cp;
          if (code >= 0xD800 && code < 0xDC00) {
            if (t_.substr(pos_, 2) != "\\u") return fail("unpaired surrogate");
            pos_ += 2;
            auto lo = hex4();
            if (!lo) return tl::unexpected(lo.error());
            if (*lo < 0xDC00 || *lo > 0xDFFF) return fail("unpaired surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (*lo - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            return fail("unpaired surrogate");
          }
          utf8(out, code);
          break;
        }
        default:
          return fail("bad escape in a string");
      }
    }
    return fail("unterminated string");
  }

  tl::expected<std::uint32_t, std::string> hex4() {
    if (pos_ + 4 > t_.size()) return fail("bad \\u escape");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(t_[pos_ + i]);
      if (h < 0) return fail("bad \\u escape");
      v = v * 16 + static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return v;
  }

  static void utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  void ws() {
    while (pos_ < t_.size() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r'))
      ++pos_;
  }
  char peek() const { return pos_ < t_.size() ? t_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || pos_ >= t_.size()) return false;
    ++pos_;
    return true;
  }
  tl::unexpected<std::string> fail(const std::string& why) const {
    return tl::unexpected("bad JSON at offset " + std::to_string(pos_) + ": " + why);
  }

  std::string_view t_;
  std::size_t pos_ = 0;
};

}  // namespace

tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> parse_query(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq));
    if (!name) return tl::unexpected(name.error());
    auto value =
        percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) return tl::unexpected(value.error());
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::map<std::string, std::string> parse_cookies(std::string_view header) {
  std::map<std::string, std::string> out;
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header.remove_prefix(semi == std::string_view::npos ? header.size() : semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    out.emplace(std::string(pair.substr(0, eq)), std::string(value));
  }
  return out;
}

tl::expected<JsonObject, std::string> parse_json_object(std::string_view text,
                                                        std::size_t max_members) {
  JsonReader r(text);
  return r.object(max_members);
}

tl::expected<std::optional<std::string>, std::string> json_string(const JsonObject& o,
                                                                  const std::string& key) {
  const auto it = o.find(key);
  if (it == o.end()) return std::optional<std::string>();
  if (const auto* s = std::get_if<std::string>(&it->second)) return std::optional(*s);
  return tl::unexpected("\"" + key + "\" must be a string");
}

tl::expected<std::optional<std::vector<std::string>>, std::string> json_strings(
    const JsonObject& o, const std::string& key) {
  const auto it = o.find(key);
  if (it == o.end()) return std::optional<std::vector<std::string>>();
  if (const auto* v = std::get_if<std::vector<std::string>>(&it->second)) return std::optional(*v);
  return tl::unexpected("\"" + key + "\" must be an array of strings");
}

}  // namespace taube::console
