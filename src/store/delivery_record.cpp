#include "store/delivery_record.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>

#include "text/json.hpp"

namespace taube::store {

namespace {

// A JSON value, as far as records need one: the reader below parses any JSON text, bounded in
// depth, so that a damaged line is rejected rather than misread.
struct Value {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Value> items;
  std::map<std::string, Value> members;
  const Value* get(const std::string& k) const {
    auto it = members.find(k);
    return it == members.end() ? nullptr : &it->second;
  }
};

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}
  std::optional<Value> document() {
    auto v = value(0);
    skip();
    if (!v || p_ != t_.size()) return std::nullopt;
    return v;
  }

 private:
  void skip() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
      ++p_;
  }
  bool eat(char c) {
    skip();
    if (p_ < t_.size() && t_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view w) {
    if (t_.substr(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(unsigned& out) {
    if (p_ + 4 > t_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = t_[p_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= static_cast<unsigned>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  bool string(std::string& out) {
    if (p_ >= t_.size() || t_[p_] != '"') return false;
    ++p_;
    while (p_ < t_.size()) {
      const char c = t_[p_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) return false;
      const char e = t_[p_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
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
          unsigned cp = 0;
          if (!hex4(cp)) return false;
          // A surrogate pair (RFC 8259 §7) for a code point above the BMP.
          if (cp >= 0xd800 && cp < 0xdc00 && literal("\\u")) {
            unsigned lo = 0;
            if (!hex4(lo) || lo < 0xdc00 || lo >= 0xe000) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;  // unterminated: a torn line
  }
  std::optional<Value> value(int depth) {
    if (depth > 8) return std::nullopt;
    skip();
    if (p_ >= t_.size()) return std::nullopt;
    Value v;
    const char c = t_[p_];
    if (c == '{') {
      ++p_;
      v.type = Value::Type::Object;
      if (eat('}')) return v;
      do {
        skip();
        std::string k;
        if (!string(k) || !eat(':')) return std::nullopt;
        auto m = value(depth + 1);
        if (!m) return std::nullopt;
        v.members[k] = std::move(*m);
      } while (eat(','));
      if (!eat('}')) return std::nullopt;
      return v;
    }
    if (c == '[') {
      ++p_;
      v.type = Value::Type::Array;
      if (eat(']')) return v;
      do {
        auto m = value(depth + 1);
        if (!m) return std::nullopt;
        v.items.push_back(std::move(*m));
      } while (eat(','));
      if (!eat(']')) return std::nullopt;
      return v;
    }
    if (c == '"') {
      v.type = Value::Type::String;
      if (!string(v.s)) return std::nullopt;
      return v;
    }
    if (literal("true")) {
      v.type = Value::Type::Bool;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.type = Value::Type::Bool;
      return v;
    }
    if (literal("null")) return v;
    const char* begin = t_.data() + p_;
    const auto [end, ec] = std::from_chars(begin, t_.data() + t_.size(), v.n);
    if (ec != std::errc() || end == begin) return std::nullopt;
    p_ += static_cast<std::size_t>(end - begin);
    v.type = Value::Type::Number;
    return v;
  }

  std::string_view t_;
  std::size_t p_ = 0;
};

// At most kMaxField octets, and not inside a UTF-8 sequence: half a character would be invalid
// UTF-8, written as \u00XX and read back as another character (found by fuzz_delivery_record).
std::string cut(std::string_view s) {
  if (s.size() <= kMaxField) return std::string(s);
  std::size_t n = kMaxField;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

void field(std::string& out, const char* key, std::string_view v) {
  out += ", \"";
  out += key;
  out += "\": ";
  text::append_json_string(out, cut(v));
}

void number(std::string& out, const char* key, std::int64_t v) {
  out += ", \"";
  out += key;
  out += "\": ";
  out += std::to_string(v);
}

std::string attempt_json(const AttemptRecord& a, std::optional<std::size_t> rcpt) {
  std::string out = "{\"time\": " + std::to_string(a.time);
  if (rcpt) number(out, "rcpt", static_cast<std::int64_t>(*rcpt));
  field(out, "host", a.host);
  field(out, "address", a.address);
  field(out, "reply", a.reply);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", a.seconds < 0 ? 0.0 : a.seconds);
  out += ", \"seconds\": ";
  out += secs;
  out += a.tls ? ", \"tls\": true" : ", \"tls\": false";
  field(out, "status", a.status);
  return out + "}";
}

std::string str(const Value& o, const char* k) {
  const Value* v = o.get(k);
  return v && v->type == Value::Type::String ? v->s : std::string();
}

std::optional<std::int64_t> integer(const Value& o, const char* k) {
  const Value* v = o.get(k);
  if (!v || v->type != Value::Type::Number || v->n < 0 || v->n > 1e15) return std::nullopt;
  return static_cast<std::int64_t>(v->n);
}

std::optional<AttemptRecord> attempt_of(const Value& o) {
  if (o.type != Value::Type::Object) return std::nullopt;
  auto t = integer(o, "time");
  if (!t) return std::nullopt;
  AttemptRecord a;
  a.time = *t;
  a.host = str(o, "host");
  a.address = str(o, "address");
  a.reply = str(o, "reply");
  if (const Value* s = o.get("seconds"); s && s->type == Value::Type::Number) a.seconds = s->n;
  if (const Value* b = o.get("tls"); b && b->type == Value::Type::Bool) a.tls = b->b;
  a.status = str(o, "status");
  return a;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != hay.end();
}

}  // namespace

std::string record_json(const DeliveryRecord& r) {
  std::string out = "{\"v\": 1";
  number(out, "time", r.time);
  field(out, "status", r.status);
  field(out, "queue_id", r.queue_id);
  field(out, "queue_file", r.queue_file);
  field(out, "message_id", r.message_id);
  field(out, "sender", r.sender);
  field(out, "recipient", r.recipient);
  field(out, "original", r.original);
  number(out, "arrival", r.arrival);
  field(out, "dsn", r.dsn);
  field(out, "reply", r.reply);
  field(out, "relay", r.relay);
  out += ", \"attempts\": [";
  // The last kMaxAttempts: the recent ones explain the outcome.
  const std::size_t from = r.attempts.size() > kMaxAttempts ? r.attempts.size() - kMaxAttempts : 0;
  for (std::size_t i = from; i < r.attempts.size(); ++i) {
    if (i != from) out += ", ";
    out += attempt_json(r.attempts[i], std::nullopt);
  }
  return out + "]}";
}

std::string encode_record(const DeliveryRecord& r) {
  // append_json_string escapes every control character, so the line has no '\n' of its own.
  return record_json(r) + "\n";
}

std::optional<DeliveryRecord> decode_record(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto doc = Reader(line).document();
  if (!doc || doc->type != Value::Type::Object) return std::nullopt;
  auto v = integer(*doc, "v");
  auto t = integer(*doc, "time");
  if (!v || *v != 1 || !t) return std::nullopt;
  DeliveryRecord r;
  r.time = *t;
  r.status = str(*doc, "status");
  r.queue_id = str(*doc, "queue_id");
  r.queue_file = str(*doc, "queue_file");
  r.message_id = str(*doc, "message_id");
  r.sender = str(*doc, "sender");
  r.recipient = str(*doc, "recipient");
  r.original = str(*doc, "original");
  r.arrival = integer(*doc, "arrival").value_or(0);
  r.dsn = str(*doc, "dsn");
  r.reply = str(*doc, "reply");
  r.relay = str(*doc, "relay");
  if (r.status.empty() || r.queue_id.empty()) return std::nullopt;
  if (const Value* a = doc->get("attempts"); a && a->type == Value::Type::Array) {
    for (const auto& item : a->items)
      if (auto one = attempt_of(item)) r.attempts.push_back(std::move(*one));
  }
  return r;
}

std::string encode_attempt_line(std::size_t rcpt, const AttemptRecord& a) {
  return attempt_json(a, rcpt) + "\n";
}

std::optional<IndexedAttempt> decode_attempt_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto doc = Reader(line).document();
  if (!doc) return std::nullopt;
  auto rcpt = integer(*doc, "rcpt");
  auto a = attempt_of(*doc);
  if (!rcpt || !a) return std::nullopt;
  return IndexedAttempt{static_cast<std::size_t>(*rcpt), std::move(*a)};
}

bool matches(const DeliveryRecord& r, const RecordQuery& q) {
  if (!q.status.empty() && r.status != q.status) return false;
  if (!q.queue_id.empty() && r.queue_id != q.queue_id && r.queue_file != q.queue_id) return false;
  if (q.text.empty()) return true;
  return contains_ci(r.queue_id, q.text) || contains_ci(r.queue_file, q.text) ||
         contains_ci(r.message_id, q.text) || contains_ci(r.sender, q.text) ||
         contains_ci(r.recipient, q.text) || contains_ci(r.original, q.text);
}

bool may_match(std::string_view line, const RecordQuery& q) {
  // The line holds each value JSON-escaped: a plain needle appears in it as it is. One with a
  // character that escaping changes (quote, backslash, control, non-ASCII) is decided by
  // matches() alone.
  auto plain = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
      return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20 &&
             static_cast<unsigned char>(c) < 0x80;
    });
  };
  if (!q.status.empty() && plain(q.status) &&
      line.find("\"status\": \"" + q.status + "\"") == std::string_view::npos)
    return false;
  if (!q.queue_id.empty() && plain(q.queue_id) && !contains_ci(line, q.queue_id)) return false;
  if (!q.text.empty() && plain(q.text) && !contains_ci(line, q.text)) return false;
  return true;
}

std::string message_id_of(std::string_view headers) {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t end = headers.find('\n', pos);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view line = headers.substr(pos, end - pos);
    if (line.empty() || line == "\r") break;  // the end of the header section
    constexpr std::string_view kName = "message-id:";
    if (line.size() >= kName.size() && std::equal(kName.begin(), kName.end(), line.begin(),
                                                  [](char a, char b) { return a == lower(b); })) {
      // Unfold (RFC 5322 §2.2.3): continuation lines start with white space.
      std::string value(line.substr(kName.size()));
      std::size_t next = end + 1;
      while (next < headers.size() && (headers[next] == ' ' || headers[next] == '\t')) {
        std::size_t e = headers.find('\n', next);
        if (e == std::string_view::npos) e = headers.size();
        value += headers.substr(next, e - next);
        next = e + 1;
      }
      std::erase_if(value, [](char c) { return c == '\r' || c == '\n'; });
      const auto first = value.find_first_not_of(" \t");
      if (first == std::string::npos) return {};
      const auto last = value.find_last_not_of(" \t");
      return cut(std::string_view(value).substr(first, last - first + 1));
    }
    pos = end + 1;
  }
  return {};
}

}  // namespace taube::store
