#include "policy/aliases_file.hpp"

#include <algorithm>

#include "smtp/wire/ascii.hpp"

namespace taube::policy {

namespace {

bool blank(char c) {
  return c == ' ' || c == '\t';
}

// One logical line: the physical lines it was joined from, so that an error names the line the
// offending text is on.
struct Logical {
  std::string text;
  std::vector<std::pair<std::size_t, std::size_t>> starts;  // (offset in text, line number)
  std::size_t line_at(std::size_t offset) const {
    std::size_t line = starts.front().second;
    for (const auto& [off, l] : starts)
      if (off <= offset) line = l;
    return line;
  }
};

std::string where(std::string_view file, std::size_t line) {
  return std::string(file) + ":" + std::to_string(line) + ": ";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// A quoted string starting at s[0] == '"': its content (backslash escapes the next character)
// and the length consumed; npos when it is not closed.
std::size_t unquote(std::string_view s, std::string& out) {
  out.clear();
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out.push_back(s[++i]);
    } else if (s[i] == '"') {
      return i + 1;
    } else {
      out.push_back(s[i]);
    }
  }
  return std::string_view::npos;
}

bool plain_address(std::string_view a) {
  if (a.empty()) return false;
  for (char c : a) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';')
      return false;
  }
  const auto at = a.rfind('@');
  if (at == std::string_view::npos) return true;
  return at > 0 && at + 1 < a.size();
}

// The targets of one entry, from `from` in the logical line.
tl::expected<std::vector<std::string>, std::string> targets_of(const Logical& l, std::size_t from,
                                                               std::string_view file) {
  std::vector<std::string> out;
  const std::string_view text = l.text;
  std::size_t i = from;
  while (i <= text.size()) {
    // One comma-separated item, quotes respected.
    std::size_t end = i;
    bool quoted = false;
    for (; end < text.size(); ++end) {
      if (text[end] == '\\' && end + 1 < text.size()) {
        ++end;
      } else if (text[end] == '"') {
        quoted = !quoted;
      } else if (text[end] == ',' && !quoted) {
        break;
      }
    }
    std::string_view raw = text.substr(i, end - i);
    std::size_t first = i;
    while (first < end && blank(text[first])) ++first;
    raw = trim(raw);
    const std::string at = where(file, l.line_at(first));
    if (quoted) return tl::unexpected(at + "unterminated quoted string");
    if (!raw.empty()) {
      std::string target;
      if (raw.front() == '"') {
        const std::size_t used = unquote(raw, target);
        if (used != raw.size())
          return tl::unexpected(at + "text after the quoted target " + std::string(raw));
      } else {
        target = std::string(raw);
      }
      const std::string shown = "\"" + std::string(raw) + "\"";
      if (target.size() >= 9 && smtp::ascii_lower(target.substr(0, 9)) == ":include:")
        return tl::unexpected(at + shown +
                              ": :include: lists are not supported (list the addresses here)");
      if (!target.empty() && target.front() == '|')
        return tl::unexpected(at + shown +
                              ": delivery to a command is not supported (Taube never runs "
                              "programs for mail; use a mailbox or an address)");
      if (!target.empty() && target.front() == '/')
        return tl::unexpected(at + shown +
                              ": delivery to a file is not supported (Taube delivers to Maildirs "
                              "of its users; use an address)");
      if (!target.empty() && target.front() == '\\') target.erase(0, 1);
      if (!plain_address(target))
        return tl::unexpected(at + shown + ": not an address (local or local@domain)");
      out.push_back(std::move(target));
    }
    if (end >= text.size()) break;
    i = end + 1;
  }
  if (out.empty())
    return tl::unexpected(where(file, l.starts.front().second) +
                          "an alias needs at least one target");
  return out;
}

tl::expected<AliasFileEntry, std::string> entry_of(const Logical& l, std::string_view file) {
  const std::string_view text = l.text;
  const std::string at = where(file, l.starts.front().second);
  AliasFileEntry e;
  e.line = l.starts.front().second;
  std::size_t i = 0;
  std::string name;
  if (text.front() == '"') {
    i = unquote(text, name);
    if (i == std::string_view::npos) return tl::unexpected(at + "unterminated quoted name");
  } else {
    while (i < text.size() && text[i] != ':' && !blank(text[i])) ++i;
    name = std::string(text.substr(0, i));
  }
  while (i < text.size() && blank(text[i])) ++i;
  if (i >= text.size() || text[i] != ':')
    return tl::unexpected(at + "expected \"name: target, ...\"" +
                          (text.front() != '"' && i < text.size()
                               ? " (a name with blank space must be quoted)"
                               : ""));
  if (name.empty()) return tl::unexpected(at + "empty alias name");
  if (!plain_address(name) && name.find_first_of(" \t") == std::string::npos)
    return tl::unexpected(at + "\"" + name + "\" is not a name or an address");
  e.name = smtp::ascii_lower(name);
  auto targets = targets_of(l, i + 1, file);
  if (!targets) return tl::unexpected(targets.error());
  e.targets = std::move(*targets);
  return e;
}

}  // namespace

tl::expected<AliasesFile, std::string> parse_aliases_file(std::string_view text,
                                                          std::string_view file) {
  std::vector<Logical> logical;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\0') != std::string_view::npos)
      return tl::unexpected(where(file, line_no) + "NUL octet");
    const std::string_view content = trim(line);
    if (content.empty() || content.front() == '#') continue;  // blank or comment
    if (blank(line.front())) {
      if (logical.empty())
        return tl::unexpected(where(file, line_no) +
                              "continuation line (it starts with blank space) without an entry "
                              "before it");
      Logical& l = logical.back();
      l.text.push_back(' ');
      l.starts.emplace_back(l.text.size(), line_no);
      l.text.append(content);
      continue;
    }
    Logical l;
    l.starts.emplace_back(0, line_no);
    l.text = std::string(trim(line));
    logical.push_back(std::move(l));
  }
  AliasesFile out;
  std::map<std::string, std::size_t> seen;
  for (const auto& l : logical) {
    auto e = entry_of(l, file);
    if (!e) return tl::unexpected(e.error());
    if (auto [it, fresh] = seen.emplace(e->name, e->line); !fresh)
      return tl::unexpected(where(file, e->line) + "duplicate alias \"" + e->name +
                            "\" (first on line " + std::to_string(it->second) + ")");
    out.entries.push_back(std::move(*e));
  }
  return out;
}

tl::expected<std::map<std::string, std::size_t>, std::string> add_file_aliases(
    const AliasesFile& file, std::string_view file_name, const std::vector<std::string>& domains,
    std::map<std::string, std::vector<std::string>>& aliases) {
  std::map<std::string, std::size_t> origin;
  for (const auto& e : file.entries) {
    std::vector<std::string> keys;
    if (e.name.find('@') != std::string::npos) {
      keys.push_back(e.name);
    } else {
      for (const auto& d : domains) keys.push_back(e.name + "@" + smtp::ascii_lower(d));
    }
    for (const auto& key : keys) {
      const std::string domain = key.substr(key.rfind('@') + 1);
      std::vector<std::string> targets;
      for (const auto& t : e.targets)
        targets.push_back(t.find('@') == std::string::npos ? t + "@" + domain : t);
      const bool in_table = std::any_of(aliases.begin(), aliases.end(), [&](const auto& kv) {
        return smtp::ascii_lower(kv.first) == key;
      });
      if (in_table)
        return tl::unexpected(where(file_name, e.line) + "alias \"" + key +
                              "\" is also in the [aliases] table");
      aliases[key] = std::move(targets);
      origin[key] = e.line;
    }
  }
  return origin;
}

}  // namespace taube::policy
