// A minimal, strict MIME reader for tests and fuzz targets that check messages Taube writes (the
// DSN builder): LF line endings, header blocks of "Name: value" lines and continuations, multipart
// bodies split at their delimiter lines. Strict on purpose: anything it cannot read is an error,
// so a structural slip in the writer fails the test instead of being read around.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace taube::testing {

struct MimeField {
  std::string name;
  std::string value;  // unfolded (line breaks removed, RFC 5322 §2.2.3), leading space trimmed
};

struct MimeEntity {
  std::vector<MimeField> fields;
  std::string body;

  // The first field with this name (ASCII case-insensitive), or nullptr.
  const std::string* field(std::string_view name) const {
    for (const auto& f : fields)
      if (iequals(f.name, name)) return &f.value;
    return nullptr;
  }
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& f : fields) n += iequals(f.name, name) ? 1 : 0;
    return n;
  }

  static bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
      if (x != y) return false;
    }
    return true;
  }
};

// RFC 5322 §3.6.8 field-name: printable ASCII except ":".
inline bool is_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (c < 33 || c > 126 || c == ':') return false;
  return true;
}

// Reads a header block, an empty line and a body; `headers_only`: the text is a header block
// without the empty line (a delivery-status group). Errors name the offending line.
inline tl::expected<MimeEntity, std::string> parse_entity(std::string_view text,
                                                          bool headers_only = false) {
  MimeEntity e;
  std::size_t pos = 0;
  while (true) {
    if (pos >= text.size()) {
      if (headers_only) return e;
      return tl::unexpected(std::string("no empty line after the header"));
    }
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (!headers_only) return tl::unexpected(std::string("header line without LF"));
      nl = text.size();
    }
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find('\r') != std::string_view::npos)
      return tl::unexpected("CR in header line: " + std::string(line));
    if (line.empty()) {
      if (headers_only) return tl::unexpected(std::string("empty line in a header group"));
      e.body = std::string(text.substr(pos > text.size() ? text.size() : pos));
      return e;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (e.fields.empty()) return tl::unexpected("continuation first: " + std::string(line));
      bool blank = true;
      for (const char c : line) blank = blank && (c == ' ' || c == '\t');
      if (blank) return tl::unexpected(std::string("whitespace-only continuation line"));
      e.fields.back().value += line;
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_field_name(line.substr(0, colon)))
      return tl::unexpected("not a header field: " + std::string(line));
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    e.fields.push_back({std::string(line.substr(0, colon)), std::string(value)});
  }
}

// The value of parameter `name` in a Content-Type value (quoted or not), or nullopt.
inline std::optional<std::string> mime_param(std::string_view value, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = value.find(';', pos)) != std::string_view::npos) {
    ++pos;
    while (pos < value.size() && (value[pos] == ' ' || value[pos] == '\t')) ++pos;
    const std::size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) return std::nullopt;
    if (!MimeEntity::iequals(value.substr(pos, eq - pos), name)) continue;
    std::string_view rest = value.substr(eq + 1);
    if (!rest.empty() && rest[0] == '"') {
      const std::size_t close = rest.find('"', 1);
      if (close == std::string_view::npos) return std::nullopt;
      return std::string(rest.substr(1, close - 1));
    }
    return std::string(rest.substr(0, rest.find(';')));
  }
  return std::nullopt;
}

// The media type of an entity ("multipart/report"), without parameters; "text/plain" if none.
inline std::string media_type(const MimeEntity& e) {
  const std::string* ct = e.field("Content-Type");
  if (!ct) return "text/plain";
  std::string t = ct->substr(0, ct->find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  return t;
}

// Splits a multipart body at its delimiter lines (RFC 2046 §5.1.1: "--boundary" alone on a line,
// the last one "--boundary--"; the LF before a delimiter belongs to it). The boundary must occur
// nowhere but in those lines, and the close delimiter must be the last line.
inline tl::expected<std::vector<std::string>, std::string> split_multipart(
    std::string_view body, std::string_view boundary) {
  const std::string open = "--" + std::string(boundary);
  const std::string close = open + "--";
  std::vector<std::string> parts;
  std::optional<std::size_t> part_start;
  std::size_t pos = 0;
  bool closed = false;
  while (pos < body.size()) {
    std::size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    const std::string_view line = body.substr(pos, nl - pos);
    if (closed) return tl::unexpected(std::string("text after the close delimiter"));
    if (line == open || line == close) {
      if (part_start) {
        // The content ends before the LF that precedes the delimiter line.
        const std::size_t end = pos > *part_start ? pos - 1 : *part_start;
        parts.emplace_back(body.substr(*part_start, end - *part_start));
      }
      part_start = nl + 1;
      closed = line == close;
    } else if (line.find(boundary) != std::string_view::npos) {
      return tl::unexpected("boundary inside a part: " + std::string(line));
    }
    pos = nl + 1;
  }
  if (!closed) return tl::unexpected(std::string("no close delimiter"));
  return parts;
}

// The groups of a message/delivery-status body (RFC 3464 §2.1): header groups separated by empty
// lines; the first holds the per-message fields.
inline tl::expected<std::vector<MimeEntity>, std::string> parse_status_groups(
    std::string_view body) {
  std::vector<MimeEntity> groups;
  std::size_t pos = 0;
  while (pos < body.size()) {
    while (pos < body.size() && body[pos] == '\n') ++pos;  // empty lines between groups
    if (pos >= body.size()) break;
    std::size_t end = body.find("\n\n", pos);
    end = end == std::string_view::npos ? body.size() : end + 1;
    auto g = parse_entity(body.substr(pos, end - pos), true);
    if (!g) return tl::unexpected(g.error());
    groups.push_back(std::move(*g));
    pos = end;
  }
  return groups;
}

}  // namespace taube::testing
