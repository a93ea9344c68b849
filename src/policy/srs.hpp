// SRS, the Sender Rewriting Scheme (Shevek, "Sender Rewriting Scheme", 2004; the de-facto format
// of libsrs2 and postsrsd). A forwarder that sends mail on with the original MAIL FROM fails the
// next hop's SPF check (RFC 7208 §1.1.2: SPF authorises the sending host for the MAIL FROM
// domain); SRS puts the forwarder's own domain in the reverse-path and encodes the original
// address, signed and dated, in the local part, so a bounce can find its way back:
//
//   forward  local@orig.domain           -> SRS0=HHHH=TT=orig.domain=local@srs.domain
//   forward  SRS0=xyz@first.forwarder    -> SRS1=HHHH=first.forwarder==xyz@srs.domain
//   forward  SRS1=HHHH=first==xyz@other  -> SRS1=HHHH=first==xyz@srs.domain (re-signed)
//   reverse  SRS0=...  -> local@orig.domain;   SRS1=HHHH=first==xyz -> SRS0=xyz@first
//
// TT is the day (days since the Unix epoch, mod 1024) in two base32 characters; HHHH is the first
// four base64 characters of HMAC-SHA1(secret, TT + orig.domain + local) (SRS1: of host + rest),
// every part lowercased first (ASCII only, as libsrs2's srs_hash_create_v does with tolower()).
// The hash is written in base64url ('-' and '_', postsrsd >= 2.0.x: '+' is a common subaddress
// delimiter and '/' is unloved in local parts); verification accepts either alphabet and any
// case, as libsrs2's base64_equivalent() does, so addresses made by classic libsrs2 still verify.
//
// Pure: no I/O, no clock (the day is a parameter), no OpenSSL (the HMAC is injected).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace taube::policy {

struct SrsConfig {
  bool enabled = false;
  std::string domain;                        // the SRS domain (lowercase); bounces come back to it
  std::vector<std::string> secrets;          // the first signs, every one verifies (rotation)
  int max_age_days = 21;                     // libsrs2's default maxage
  std::vector<std::string> exclude_domains;  // senders in these domains are never rewritten
};

enum class SrsError {
  NotSrs,        // the local part is not SRS0/SRS1 + separator
  NoAtSign,      // forward: the sender has no '@'
  Malformed,     // a field (hash, timestamp, host, user) is missing or empty
  BadTimestamp,  // the timestamp is not two base32 characters
  HashTooShort,  // fewer than four hash characters
  HashInvalid,   // no secret makes this hash
  Expired,       // older than max_age_days (or "in the future", which is the same thing mod 1024)
  NoSecret,      // configuration: no secret to sign with
  TooLong,       // the result would not fit in a local part (RFC 5321 §4.5.3.1.1: 64 octets)
  Crypto,        // the injected HMAC-SHA1 returned no 20-octet MAC
};
std::string_view to_string(SrsError e);

// HMAC-SHA1 (RFC 2104) of `data` under `key`: 20 octets. An implementation that fails returns
// anything of another length: forward() and reverse() then fail with Crypto, so a broken
// primitive can stop SRS but never make a hash verify.
using HmacSha1 = std::function<std::string(std::string_view key, std::string_view data)>;

// The number of days since the Unix epoch at `unix_seconds` (SRS's time precision).
constexpr std::int64_t srs_day(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

class Srs {
 public:
  static constexpr std::size_t kHashLength = 4;     // libsrs2 hashlength = hashmin = 4
  static constexpr std::size_t kMaxLocalPart = 64;  // RFC 5321 §4.5.3.1.1

  Srs(SrsConfig config, HmacSha1 hmac) : cfg_(std::move(config)), hmac_(std::move(hmac)) {}

  // The SRS address for `sender` ("local@domain") on day `day`. A sender already at the SRS
  // domain comes back unchanged (libsrs2 srs_forward without alwaysrewrite). TooLong when the
  // local part would exceed 64 octets: a bounce to it could not come back through a server that
  // enforces RFC 5321's limit (Taube does), so the caller keeps the sender as it is.
  tl::expected<std::string, SrsError> forward(std::string_view sender, std::int64_t day) const;

  // The address an SRS local part stands for, after checking its hash (any secret) and, for SRS0,
  // its age. The domain of the SRS address is the caller's business (it routes only the SRS
  // domain here). SRS1 reverses to the SRS0 address at the first forwarder (not checked here:
  // its hash and time stamp are that forwarder's).
  tl::expected<std::string, SrsError> reverse(std::string_view local_part, std::int64_t day) const;

  // "SRS0" or "SRS1" (any case) followed by one of "=+-" (libsrs2 SRS_IS_SRS_ADDRESS).
  static bool looks_like_srs(std::string_view local_part);

  // The two base32 characters of `day` mod 1024.
  static std::string timestamp(std::int64_t day);

  const SrsConfig& config() const { return cfg_; }
  // A copy making its addresses in `domain` (lowercased).
  Srs with_domain(std::string_view domain) const;

 private:
  // The first kHashLength base64url characters of HMAC-SHA1(secret, lowercase(concat(parts))).
  std::string hash(const std::string& secret, std::initializer_list<std::string_view> parts) const;
  // A hash made by any secret equals `given` (case-insensitively, '+'~'-', '/'~'_').
  tl::expected<void, SrsError> check_hash(std::string_view given,
                                          std::initializer_list<std::string_view> parts) const;
  bool fresh(std::string_view stamp, std::int64_t day) const;

  SrsConfig cfg_;
  HmacSha1 hmac_;
};

}  // namespace taube::policy
