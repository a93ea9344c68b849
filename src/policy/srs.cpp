// SRS forward and reverse, after libsrs2 as shipped in postsrsd (src/srs2.c: srs_compile_guarded,
// srs_compile_shortcut, srs_parse_guarded, srs_parse_shortcut, srs_hash_create_v,
// srs_timestamp_create/_check, base64_equivalent). Where Taube differs it says so: empty hosts and
// users are malformed here (libsrs2 lets "user@" through), the hash is checked before the age
// (so "expired" is said of genuine addresses only), and an over-long result is refused.
#include "policy/srs.hpp"

#include <initializer_list>

namespace taube::policy {

namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";  // SRS_TIME_BASECHARS
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";  // SRS_HASH_BASECHARS
constexpr std::int64_t kTimeSlots = 1024;  // 2 base32 characters: 2^10 days
constexpr std::size_t kHmacSha1Length = 20;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}
bool is_base32(char c) {
  return kBase32.find(upper(c)) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_separator(char c) {
  return c == '=' || c == '+' || c == '-';
}  // srs_separators

// libsrs2's base64_equivalent() translation: case folded, '+' ~ '-', '/' ~ '_'; 0 for a
// character outside both alphabets (which never matches).
char canonical_hash_char(char c) {
  if (c >= 'A' && c <= 'Z') return lower(c);
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') return c;
  if (c == '+') return '-';
  if (c == '/') return '_';
  return 0;
}

// Splits `s` at its first '=' (SRSSEP): the part before into `head`, the rest after it into
// `tail`. False when there is no '='.
bool cut(std::string_view s, std::string_view& head, std::string_view& tail) {
  const auto eq = s.find('=');
  if (eq == std::string_view::npos) return false;
  head = s.substr(0, eq);
  tail = s.substr(eq + 1);
  return true;
}

}  // namespace

std::string_view to_string(SrsError e) {
  switch (e) {
    case SrsError::NotSrs:
      return "not an SRS address";
    case SrsError::NoAtSign:
      return "no at sign in the sender address";
    case SrsError::Malformed:
      return "malformed SRS address";
    case SrsError::BadTimestamp:
      return "bad time stamp in SRS address";
    case SrsError::HashTooShort:
      return "hash too short in SRS address";
    case SrsError::HashInvalid:
      return "hash invalid in SRS address";
    case SrsError::Expired:
      return "time stamp out of date";
    case SrsError::NoSecret:
      return "no SRS secret";
    case SrsError::TooLong:
      return "SRS address longer than 64 octets";
    case SrsError::Crypto:
      return "HMAC-SHA1 failed";
  }
  return "unknown SRS error";
}

Srs Srs::with_domain(std::string_view domain) const {
  Srs s = *this;
  s.cfg_.domain.clear();
  for (char c : domain) s.cfg_.domain += lower(c);
  return s;
}

bool Srs::looks_like_srs(std::string_view lp) {
  return lp.size() >= 5 && lower(lp[0]) == 's' && lower(lp[1]) == 'r' && lower(lp[2]) == 's' &&
         (lp[3] == '0' || lp[3] == '1') && is_separator(lp[4]);
}

std::string Srs::timestamp(std::int64_t day) {
  // srs_timestamp_create: the low 10 bits of the day, high 5 bits first.
  const auto d = static_cast<std::uint64_t>(day) & (kTimeSlots - 1);
  return {kBase32[(d >> 5) & 31], kBase32[d & 31]};
}

std::string Srs::hash(const std::string& secret,
                      std::initializer_list<std::string_view> parts) const {
  // srs_hash_create_v: HMAC-SHA1 over the parts, each lowercased with the C locale's tolower().
  std::string data;
  for (auto p : parts)
    for (char c : p) data += lower(c);
  const std::string mac = hmac_ ? hmac_(secret, data) : std::string();
  if (mac.size() != kHmacSha1Length) return {};
  // "A little base64 encoding. Just a little.": the first kHashLength sextets, MSB first.
  std::string out;
  for (std::size_t i = 0; i < kHashLength; ++i) {
    const std::size_t bit = i * 6;
    const auto hi = static_cast<unsigned char>(mac[bit / 8]);
    const auto lo = static_cast<unsigned char>(mac[bit / 8 + 1]);
    const unsigned word = (static_cast<unsigned>(hi) << 8) | lo;
    out += kBase64Url[(word >> (10 - bit % 8)) & 63];
  }
  return out;
}

tl::expected<void, SrsError> Srs::check_hash(std::string_view given,
                                             std::initializer_list<std::string_view> parts) const {
  // srs_hash_check: at least hashmin characters; only the first hashlength compared.
  if (given.size() < kHashLength) return tl::unexpected(SrsError::HashTooShort);
  given = given.substr(0, kHashLength);
  for (const auto& secret : cfg_.secrets) {
    const std::string want = hash(secret, parts);
    if (want.size() != kHashLength) return tl::unexpected(SrsError::Crypto);
    // base64_equivalent: no early exit, a character outside the alphabet never matches.
    int diff = 0;
    for (std::size_t i = 0; i < kHashLength; ++i) {
      const char a = canonical_hash_char(given[i]), b = canonical_hash_char(want[i]);
      diff |= (a ^ b) | (a == 0) | (b == 0);
    }
    if (diff == 0) return {};
  }
  return tl::unexpected(cfg_.secrets.empty() ? SrsError::NoSecret : SrsError::HashInvalid);
}

bool Srs::fresh(std::string_view stamp, std::int64_t day) const {
  // srs_timestamp_check: the stamp's day is at most max_age days before today, counted mod 1024
  // (a stamp "from the future" is one from ~1024 days ago, hence out of date).
  std::int64_t then = 0;
  for (char c : stamp) {
    then = (then << 5) | static_cast<std::int64_t>(kBase32.find(upper(c)));
  }
  std::int64_t now = ((day % kTimeSlots) + kTimeSlots) % kTimeSlots;
  while (now < then) now += kTimeSlots;
  return now <= then + cfg_.max_age_days;
}

tl::expected<std::string, SrsError> Srs::forward(std::string_view sender, std::int64_t day) const {
  const auto at = sender.rfind('@');
  if (at == std::string_view::npos) return tl::unexpected(SrsError::NoAtSign);
  const std::string_view user = sender.substr(0, at), host = sender.substr(at + 1);
  if (user.empty() || host.empty()) return tl::unexpected(SrsError::Malformed);
  // srs_forward without alwaysrewrite: our own addresses stay as they are.
  if (iequals(host, cfg_.domain)) return std::string(sender);
  if (cfg_.secrets.empty()) return tl::unexpected(SrsError::NoSecret);
  const std::string& secret = cfg_.secrets.front();

  std::string local;
  if (looks_like_srs(user) && user[3] == '1') {
    // SRS1=HHHH=first==rest@other -> re-signed at our domain, the first forwarder kept.
    std::string_view old_hash, rest, first, tail;
    if (!cut(user.substr(5), old_hash, rest) || !cut(rest, first, tail) || first.empty() ||
        tail.empty())
      return tl::unexpected(SrsError::Malformed);
    const std::string h = hash(secret, {first, tail});
    if (h.empty()) return tl::unexpected(SrsError::Crypto);
    local = "SRS1=" + h + "=" + std::string(first) + "=" + std::string(tail);
  } else if (looks_like_srs(user)) {
    // SRS0?xyz@first -> SRS1=HHHH=first=?xyz (the SRS0 part is opaque: its hash is first's).
    const std::string_view tail = user.substr(4);  // with its separator
    const std::string h = hash(secret, {host, tail});
    if (h.empty()) return tl::unexpected(SrsError::Crypto);
    local = "SRS1=" + h + "=" + std::string(host) + "=" + std::string(tail);
  } else {
    const std::string stamp = timestamp(day);
    const std::string h = hash(secret, {stamp, host, user});
    if (h.empty()) return tl::unexpected(SrsError::Crypto);
    local = "SRS0=" + h + "=" + stamp + "=" + std::string(host) + "=" + std::string(user);
  }
  if (local.size() > kMaxLocalPart) return tl::unexpected(SrsError::TooLong);
  return local + "@" + cfg_.domain;
}

tl::expected<std::string, SrsError> Srs::reverse(std::string_view lp, std::int64_t day) const {
  if (!looks_like_srs(lp)) return tl::unexpected(SrsError::NotSrs);
  const std::string_view body = lp.substr(5);
  if (lp[3] == '1') {
    // srs_parse_guarded: SRS1=HHHH=first==rest -> SRS0=rest@first.
    std::string_view h, rest, first, tail;
    if (!cut(body, h, rest) || h.empty() || !cut(rest, first, tail) || first.empty() ||
        tail.empty())
      return tl::unexpected(SrsError::Malformed);
    if (auto ok = check_hash(h, {first, tail}); !ok) return tl::unexpected(ok.error());
    return "SRS0" + std::string(tail) + "@" + std::string(first);
  }
  // srs_parse_shortcut: SRS0=HHHH=TT=host=user -> user@host (the user may contain '=').
  std::string_view h, rest, stamp, rest2, host, user;
  if (!cut(body, h, rest) || h.empty() || !cut(rest, stamp, rest2) || !cut(rest2, host, user) ||
      host.empty() || user.empty())
    return tl::unexpected(SrsError::Malformed);
  if (stamp.size() != 2 || !is_base32(stamp[0]) || !is_base32(stamp[1]))
    return tl::unexpected(SrsError::BadTimestamp);
  if (auto ok = check_hash(h, {stamp, host, user}); !ok) return tl::unexpected(ok.error());
  if (!fresh(stamp, day)) return tl::unexpected(SrsError::Expired);
  return std::string(user) + "@" + std::string(host);
}

}  // namespace taube::policy
