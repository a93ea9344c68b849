#include "smtp/wire/extensions.hpp"

#include <charconv>

#include "smtp/wire/ascii.hpp"

namespace taube::smtp {

namespace {

// Calls f(word) for each SP-separated non-empty word of `s`.
template <class F>
void for_each_word(std::string_view s, F&& f) {
  while (!s.empty()) {
    const auto sp = s.find(' ');
    const std::string_view w = s.substr(0, sp);
    if (!w.empty()) f(w);
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// ehlo-param *( SP ehlo-param ), exactly one SP between them.
bool is_param_list(std::string_view s) {
  if (s.empty()) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.find("  ") != std::string_view::npos) return false;
  for (const char c : s)
    if (c != ' ' && !is_ascii_graphic(c)) return false;
  return true;
}

}  // namespace

bool is_ehlo_keyword(std::string_view keyword) {
  if (keyword.empty() || !is_ascii_alnum(keyword.front())) return false;
  for (const char c : keyword)
    if (!is_ascii_alnum(c) && c != '-') return false;
  return true;
}

ExtensionSet ExtensionSet::parse_ehlo(const Reply& reply) {
  ExtensionSet set;
  if (reply.code != 250) return set;
  std::string_view text = reply.text;
  bool first = true;
  while (true) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    if (first) {
      // "250" SP Domain [ SP ehlo-greet ]
      const std::string_view l = trim_spaces(line);
      const auto sp = l.find(' ');
      set.domain_.assign(l.substr(0, sp));
      if (sp != std::string_view::npos) set.greeting_.assign(trim_spaces(l.substr(sp + 1)));
      first = false;
    } else {
      const std::string_view l = trim_spaces(line);
      // The keyword ends at SP, or at "=" for the old "AUTH=LOGIN PLAIN" form.
      const auto end = l.find_first_of(" =");
      const std::string_view kw = l.substr(0, end);
      if (is_ehlo_keyword(kw)) {
        const std::string_view params =
            end == std::string_view::npos ? std::string_view{} : trim_spaces(l.substr(end + 1));
        set.entries_.push_back(Extension{std::string(kw), std::string(params)});
      }
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return set;
}

bool ExtensionSet::has(std::string_view keyword) const {
  return params(keyword).has_value();
}

std::optional<std::string_view> ExtensionSet::params(std::string_view keyword) const {
  for (const Extension& e : entries_)
    if (ascii_iequals(e.keyword, keyword)) return std::string_view(e.params);
  return std::nullopt;
}

std::uint64_t ExtensionSet::size_limit() const {
  // RFC 1870 §4: "SIZE" [SP 1*20DIGIT]; "SIZE 0" and "SIZE" both mean no fixed maximum.
  const auto p = params("SIZE");
  if (!p) return 0;
  std::string_view v = p->substr(0, p->find(' '));
  if (v.empty() || v.size() > 20) return 0;
  std::uint64_t n = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size()) return 0;
  return n;
}

std::vector<std::string> ExtensionSet::auth_mechanisms() const {
  // RFC 4954 §3: "AUTH" SP sasl-mech *(SP sasl-mech). Mechanism names are uppercase by
  // RFC 4422 §3.1; fold so that a lowercase announcement still matches.
  std::vector<std::string> out;
  for (const Extension& e : entries_) {
    if (!ascii_iequals(e.keyword, "AUTH")) continue;
    for_each_word(e.params, [&](std::string_view w) {
      std::string m = ascii_upper(w);
      for (const auto& have : out)
        if (have == m) return;
      out.push_back(std::move(m));
    });
  }
  return out;
}

bool ExtensionSet::add(std::string_view keyword, std::string_view params) {
  if (!is_ehlo_keyword(keyword) || has(keyword) || !is_param_list(params)) return false;
  entries_.push_back(Extension{std::string(keyword), std::string(params)});
  return true;
}

Reply ExtensionSet::ehlo_reply(std::string_view hostname) const {
  // RFC 5321 §4.1.1.1: the first line names the server, then one extension per line.
  Reply r{250, "", std::string(hostname)};
  for (const Extension& e : entries_) {
    r.text.push_back('\n');
    r.text.append(e.keyword);
    if (!e.params.empty()) r.text.append(" ").append(e.params);
  }
  return r;
}

}  // namespace taube::smtp
