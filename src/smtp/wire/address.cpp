#include "smtp/wire/address.hpp"

#include <cstdint>

namespace taube::smtp {

namespace {

// RFC 5322 §3.2.3 atext.
bool is_atext(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_let_dig(unsigned char c) {
  return is_ascii_alnum(static_cast<char>(c));
}

// RFC 5321 §4.1.2 qtextSMTP: %d32-33 / %d35-91 / %d93-126 (and UTF-8 with SMTPUTF8).
bool is_qtext(unsigned char c, bool utf8) {
  if (c >= 0x80) return utf8;
  return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

bool needs_quoting(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return true;
  bool prev_dot = false;
  for (unsigned char c : local) {
    if (c == '.') {
      if (prev_dot) return true;
      prev_dot = true;
      continue;
    }
    prev_dot = false;
    if (!is_atext(c) && c < 0x80) return true;
  }
  return false;
}

bool parse_ipv4(std::string_view s) {
  int parts = 0;
  while (true) {
    std::size_t n = 0;
    unsigned v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9' && n < 4) v = v * 10 + (s[n++] - '0');
    if (n == 0 || n > 3 || v > 255) return false;
    ++parts;
    s.remove_prefix(n);
    if (parts == 4) return s.empty();
    if (s.empty() || s.front() != '.') return false;
    s.remove_prefix(1);
  }
}

bool parse_ipv6(std::string_view s) {
  // RFC 5321 §4.1.3 IPv6-addr, checked structurally: hex groups of 1-4 digits separated by ':',
  // at most one "::", optionally ending in an IPv4 address.
  int groups = 0;
  bool compressed = false;
  if (s.starts_with("::")) {
    compressed = true;
    s.remove_prefix(2);
    if (s.empty()) return true;
  }
  while (!s.empty()) {
    const auto colon = s.find(':');
    std::string_view g = s.substr(0, colon);
    if (colon == std::string_view::npos && g.find('.') != std::string_view::npos) {
      if (!parse_ipv4(g)) return false;
      groups += 2;
      break;
    }
    if (g.empty() || g.size() > 4) return false;
    for (char c : g)
      if (!is_ascii_xdigit(c)) return false;
    ++groups;
    if (colon == std::string_view::npos) break;
    s.remove_prefix(colon + 1);
    if (s.starts_with(":")) {
      if (compressed) return false;
      compressed = true;
      s.remove_prefix(1);
      if (s.empty()) break;
    } else if (s.empty()) {
      return false;
    }
  }
  // RFC 5321 §4.1.3: with "::" at most 6 groups besides it (the IPv4 part counts as 2).
  return compressed ? groups <= 6 : groups == 8;
}

struct MailboxParse {
  Mailbox mailbox;
  std::size_t consumed = 0;
};

// Parses Mailbox = Local-part "@" ( Domain / address-literal ) at the start of `in`, stopping at
// the first octet that cannot continue it.
tl::expected<MailboxParse, AddressError> parse_mailbox_prefix(std::string_view in, bool utf8,
                                                              const Limits& limits) {
  MailboxParse r;
  std::size_t i = 0;
  std::string& local = r.mailbox.local_part;
  if (i < in.size() && in[i] == '"') {
    // Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 5321 §4.1.2)
    ++i;
    bool closed = false;
    while (i < in.size()) {
      const unsigned char c = in[i];
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c == '\\') {
        // quoted-pairSMTP = %d92 %d32-126
        if (i + 1 >= in.size()) return tl::unexpected(AddressError::Syntax);
        const unsigned char q = in[i + 1];
        if (q < 32 || q > 126) return tl::unexpected(AddressError::Syntax);
        local.push_back(static_cast<char>(q));
        i += 2;
        continue;
      }
      if (!is_qtext(c, true)) return tl::unexpected(AddressError::Syntax);
      local.push_back(static_cast<char>(c));
      ++i;
    }
    if (!closed) return tl::unexpected(AddressError::Syntax);
  } else {
    // Dot-string = Atom *("." Atom)
    const std::size_t start = i;
    bool prev_dot = true;  // a leading dot is an error
    while (i < in.size()) {
      const unsigned char c = in[i];
      if (c == '.') {
        if (prev_dot) return tl::unexpected(AddressError::Syntax);
        prev_dot = true;
      } else if (is_atext(c) || c >= 0x80) {
        prev_dot = false;
      } else {
        break;
      }
      ++i;
    }
    if (i == start || prev_dot) return tl::unexpected(AddressError::Syntax);
    local.assign(in.substr(start, i - start));
  }
  const std::size_t local_wire_len = i;
  if (i >= in.size() || in[i] != '@') return tl::unexpected(AddressError::Syntax);
  ++i;
  const std::size_t dstart = i;
  if (i < in.size() && in[i] == '[') {
    const auto close = in.find(']', i);
    if (close == std::string_view::npos) return tl::unexpected(AddressError::Syntax);
    i = close + 1;
    r.mailbox.domain.assign(in.substr(dstart, i - dstart));
    r.mailbox.domain_is_literal = true;
    if (!is_valid_address_literal(r.mailbox.domain)) return tl::unexpected(AddressError::Syntax);
  } else {
    while (i < in.size()) {
      const unsigned char c = in[i];
      if (is_let_dig(c) || c == '-' || c == '.' || c >= 0x80) {
        ++i;
      } else {
        break;
      }
    }
    r.mailbox.domain.assign(in.substr(dstart, i - dstart));
    if (r.mailbox.domain.size() > limits.max_domain) return tl::unexpected(AddressError::TooLong);
    if (!is_valid_domain(r.mailbox.domain, true)) return tl::unexpected(AddressError::Syntax);
  }
  if (!is_valid_utf8(local) || !is_valid_utf8(r.mailbox.domain))
    return tl::unexpected(AddressError::Syntax);
  if (local_wire_len > limits.max_local_part || r.mailbox.domain.size() > limits.max_domain)
    return tl::unexpected(AddressError::TooLong);
  if (!utf8 && (!is_ascii(local) || !is_ascii(r.mailbox.domain)))
    return tl::unexpected(AddressError::Utf8NotAllowed);
  r.consumed = i;
  return r;
}

}  // namespace

// address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General ) "]"
bool is_valid_address_literal(std::string_view lit) {
  if (lit.size() < 3 || lit.front() != '[' || lit.back() != ']') return false;
  std::string_view in = lit.substr(1, lit.size() - 2);
  if (in.size() > 5 && ascii_lower(in.substr(0, 5)) == "ipv6:") return parse_ipv6(in.substr(5));
  if (parse_ipv4(in)) return true;
  // General-address-literal = Standardized-tag ":" 1*dcontent
  const auto colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : in.substr(0, colon))
    if (!is_let_dig(static_cast<unsigned char>(c)) && c != '-') return false;
  if (colon + 1 == in.size()) return false;
  for (unsigned char c : in.substr(colon + 1))
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return false;
  return true;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlongs, surrogates, beyond U+10FFFF (RFC 3629 §3).
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp > 0x10FFFF) return false;
    i += n + 1;
  }
  return true;
}

bool is_valid_domain(std::string_view domain, bool utf8) {
  // Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2);
  // with SMTPUTF8 a sub-domain may be a U-label (RFC 6531 §3.3), checked here only for UTF-8
  // well-formedness.
  if (domain.empty() || domain.size() > 255) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    const auto first = static_cast<unsigned char>(label.front());
    const auto last = static_cast<unsigned char>(label.back());
    if (first == '-' || last == '-') return false;
    for (unsigned char c : label) {
      if (c >= 0x80) {
        if (!utf8) return false;
      } else if (!is_let_dig(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return is_valid_utf8(domain);
}

std::string Mailbox::to_string() const {
  std::string r;
  if (needs_quoting(local_part)) {
    r.push_back('"');
    for (char c : local_part) {
      if (c == '"' || c == '\\') r.push_back('\\');
      r.push_back(c);
    }
    r.push_back('"');
  } else {
    r = local_part;
  }
  if (!domain.empty()) r.append("@").append(domain);
  return r;
}

tl::expected<PathParse, AddressError> parse_path(std::string_view in, PathKind kind, bool utf8,
                                                 const Limits& limits) {
  PathParse r;
  if (in.empty()) return tl::unexpected(AddressError::Syntax);
  const bool bracketed = in.front() == '<';
  if (!bracketed) {
    // Lenient form without angle brackets: the path is the first space-delimited word.
    const auto sp = in.find(' ');
    const std::string_view word = in.substr(0, sp);
    if (word.empty()) return tl::unexpected(AddressError::Syntax);
    if (word.size() + 2 > limits.max_path) return tl::unexpected(AddressError::TooLong);
    if (kind == PathKind::ForwardPath && ascii_iequals(word, "postmaster")) {
      if (limits.max_local_part < 10) return tl::unexpected(AddressError::TooLong);
      r.path.mailbox.local_part = "postmaster";
    } else {
      auto mb = parse_mailbox_prefix(word, utf8, limits);
      if (!mb) return tl::unexpected(mb.error());
      if (mb->consumed != word.size()) return tl::unexpected(AddressError::Syntax);
      r.path.mailbox = std::move(mb->mailbox);
    }
    r.rest = sp == std::string_view::npos ? std::string_view{} : in.substr(sp);
    return r;
  }

  const auto close = in.find('>');
  // The octet count of the whole path, brackets included (RFC 5321 §4.5.3.1.3). A quoted local
  // part may contain '>', so the length check uses the parsed end below as well.
  std::size_t i = 1;
  if (in.size() > 1 && in[1] == '>') {
    if (kind != PathKind::ReversePath) return tl::unexpected(AddressError::Syntax);
    r.path.null = true;
    r.rest = in.substr(2);
    return r;
  }
  // Source route: A-d-l ":" — "@one,@two:" — accepted and ignored (RFC 5321 §4.1.2, Appendix C).
  if (i < in.size() && in[i] == '@') {
    const auto colon = in.find(':', i);
    if (colon == std::string_view::npos || (close != std::string_view::npos && colon > close))
      return tl::unexpected(AddressError::Syntax);
    std::string_view adl = in.substr(i, colon - i);
    while (!adl.empty()) {
      if (adl.front() != '@') return tl::unexpected(AddressError::Syntax);
      const auto comma = adl.find(',');
      const std::string_view dom =
          adl.substr(1, comma == std::string_view::npos ? adl.npos : comma - 1);
      if (!is_valid_domain(dom, utf8) && !is_valid_address_literal(dom))
        return tl::unexpected(AddressError::Syntax);
      if (comma == std::string_view::npos) break;
      adl.remove_prefix(comma + 1);
    }
    i = colon + 1;
  }
  const std::string_view body = in.substr(i);
  if (kind == PathKind::ForwardPath && body.size() >= 11 &&
      ascii_iequals(body.substr(0, 10), "postmaster") && body[10] == '>') {
    if (i + 11 > limits.max_path || limits.max_local_part < 10)
      return tl::unexpected(AddressError::TooLong);  // §4.5.3.1.3
    r.path.mailbox.local_part = "postmaster";
    r.rest = body.substr(11);
    return r;
  }
  auto mb = parse_mailbox_prefix(body, true, limits);
  if (!mb) {
    if (mb.error() == AddressError::TooLong) return tl::unexpected(AddressError::TooLong);
    return tl::unexpected(mb.error());
  }
  const std::size_t end = i + mb->consumed;
  if (end >= in.size() || in[end] != '>') return tl::unexpected(AddressError::Syntax);
  if (end + 1 > limits.max_path) return tl::unexpected(AddressError::TooLong);
  // UTF-8 is checked after the length so that an over-long UTF-8 path reports TooLong first.
  const auto& m = mb->mailbox;
  if (!utf8 && (!is_ascii(m.local_part) || !is_ascii(m.domain)))
    return tl::unexpected(AddressError::Utf8NotAllowed);
  r.path.mailbox = std::move(mb->mailbox);
  r.rest = in.substr(end + 1);
  return r;
}

tl::expected<Mailbox, AddressError> parse_mailbox(std::string_view in, bool utf8,
                                                  const Limits& limits) {
  auto mb = parse_mailbox_prefix(in, utf8, limits);
  if (!mb) return tl::unexpected(mb.error());
  if (mb->consumed != in.size()) return tl::unexpected(AddressError::Syntax);
  return std::move(mb->mailbox);
}

}  // namespace taube::smtp
