#include "smtp/wire/command_format.hpp"

#include <limits>

#include "smtp/wire/ascii.hpp"

namespace taube::smtp {

namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string line(std::string_view verb, std::string_view arg = {}) {
  std::string s(verb);
  if (!arg.empty()) s.append(" ").append(arg);
  s.append(kCrlf);
  return s;
}

bool is_helo_domain(std::string_view d) {
  return is_valid_domain(d, false) || is_valid_address_literal(d);
}

tl::expected<std::string, FormatError> hello(std::string_view verb, std::string_view domain) {
  if (!is_helo_domain(domain)) return tl::unexpected(FormatError::BadDomain);
  return line(verb, domain);
}

// base64 of RFC 4648 §4 with padding: 4-octet groups, "=" only at the end.
bool is_base64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  const auto pad = s.find('=');
  if (pad != std::string_view::npos) {
    if (pad + 2 < s.size()) return false;  // at most two "=", at the end
    for (std::size_t i = pad; i < s.size(); ++i)
      if (s[i] != '=') return false;
  }
  for (const char c : s.substr(0, pad))
    if (!is_ascii_alnum(c) && c != '+' && c != '/') return false;
  return true;
}

// RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
bool is_sasl_mech(std::string_view m) {
  if (m.empty() || m.size() > 20) return false;
  for (const char c : m)
    if (!is_ascii_alnum(c) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

tl::expected<std::string, FormatError> format_helo(std::string_view domain) {
  return hello("HELO", domain);
}
tl::expected<std::string, FormatError> format_ehlo(std::string_view domain) {
  return hello("EHLO", domain);
}
tl::expected<std::string, FormatError> format_lhlo(std::string_view domain) {
  return hello("LHLO", domain);
}

tl::expected<std::string, FormatError> format_path(const Path& path, PathKind kind, bool smtputf8) {
  if (path.null) {
    // RFC 5321 §4.1.1.2: the null reverse-path, for bounces; never a recipient.
    if (kind != PathKind::ReversePath) return tl::unexpected(FormatError::BadAddress);
    return std::string("<>");
  }
  const Mailbox& m = path.mailbox;
  if (m.domain.empty()) {
    // RFC 5321 §4.1.1.3: "<Postmaster>" is the one forward-path without a domain.
    if (kind == PathKind::ForwardPath && ascii_iequals(m.local_part, "postmaster") &&
        !m.domain_is_literal)
      return "<" + m.local_part + ">";
    return tl::unexpected(FormatError::BadAddress);
  }
  // RFC 6531 §3.2: without SMTPUTF8 the client must not send a non-ASCII address.
  if (!smtputf8 && (!is_ascii(m.local_part) || !is_ascii(m.domain)))
    return tl::unexpected(FormatError::Utf8NeedsSmtputf8);
  std::string wire = "<" + m.to_string() + ">";
  // Read it back as a server would. Only the RFC 5321 §4.5.3.1 length limits are lifted: the
  // client relays what it was given (a receiving server may still refuse it with 553).
  Limits relaxed;
  relaxed.max_path = std::numeric_limits<std::size_t>::max();
  relaxed.max_local_part = std::numeric_limits<std::size_t>::max();
  const auto back = parse_path(wire, kind, smtputf8, relaxed);
  if (!back || !back->rest.empty() || back->path.null || !(back->path.mailbox == m))
    return tl::unexpected(FormatError::BadAddress);
  return wire;
}

tl::expected<std::string, FormatError> format_mail(const Path& from, const MailParams& params) {
  auto path = format_path(from, PathKind::ReversePath, params.smtputf8);
  if (!path) return tl::unexpected(path.error());
  auto p = format_mail_params(params);
  if (!p) return tl::unexpected(p.error());
  return "MAIL FROM:" + *path + *p + std::string(kCrlf);
}

tl::expected<std::string, FormatError> format_rcpt(const Mailbox& to, const RcptParams& params,
                                                   bool smtputf8) {
  auto path = format_path(Path{to, false}, PathKind::ForwardPath, smtputf8);
  if (!path) return tl::unexpected(path.error());
  auto p = format_rcpt_params(params);
  if (!p) return tl::unexpected(p.error());
  return "RCPT TO:" + *path + *p + std::string(kCrlf);
}

std::string format_data() {
  return line("DATA");
}
std::string format_bdat(std::uint64_t size, bool last) {
  // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]; end-marker = "LAST"
  std::string s = "BDAT " + std::to_string(size);
  if (last) s.append(" LAST");
  return s.append(kCrlf);
}
std::string format_rset() {
  return line("RSET");
}
std::string format_quit() {
  return line("QUIT");
}
std::string format_noop() {
  return line("NOOP");
}
std::string format_starttls() {
  return line("STARTTLS");
}

tl::expected<std::string, FormatError> format_auth(std::string_view mechanism,
                                                   std::optional<std::string_view> initial) {
  if (!is_sasl_mech(mechanism)) return tl::unexpected(FormatError::BadValue);
  std::string s = "AUTH ";
  s.append(mechanism);
  if (initial) {
    // RFC 4954 §4: "=" is the empty initial response; otherwise base64, never empty.
    if (*initial != "=" && (initial->empty() || !is_base64(*initial)))
      return tl::unexpected(FormatError::BadValue);
    s.append(" ").append(*initial);
  }
  s.append(kCrlf);
  if (s.size() > kMaxAuthCommandLine) return tl::unexpected(FormatError::LineTooLong);
  return s;
}

tl::expected<std::string, FormatError> format_auth_response(std::string_view base64) {
  // RFC 4954 §4: a line of base64, or "*" to cancel the exchange.
  if (base64 != "*" && !is_base64(base64)) return tl::unexpected(FormatError::BadValue);
  return std::string(base64).append(kCrlf);
}

tl::expected<std::string, FormatError> format_etrn(std::string_view node) {
  // RFC 1985 §5: "ETRN" SP [ "@" / "#" ] node-name
  if (!node.empty() && node.front() == '#') {
    const std::string_view queue = node.substr(1);
    if (queue.empty()) return tl::unexpected(FormatError::BadDomain);
    for (const char c : queue)
      if (!is_ascii_graphic(c)) return tl::unexpected(FormatError::BadDomain);
    return line("ETRN", node);
  }
  const std::string_view domain = !node.empty() && node.front() == '@' ? node.substr(1) : node;
  if (!is_helo_domain(domain)) return tl::unexpected(FormatError::BadDomain);
  return line("ETRN", node);
}

tl::expected<std::string, FormatError> format_vrfy(std::string_view what) {
  if (what.empty() || what.front() == ' ' || what.back() == ' ')
    return tl::unexpected(FormatError::BadValue);
  for (const char c : what)
    if (c != ' ' && !is_ascii_graphic(c)) return tl::unexpected(FormatError::BadValue);
  return line("VRFY", what);
}

}  // namespace taube::smtp
