// SessionStore: the console's logins, in memory only (a restart logs everyone out, which is
// what an operator expects of a server restart). A session is found by the token in its
// cookie; the store keys sessions by the token's SHA-256, so a look-up's timing tells nothing
// about the tokens it holds, and a memory dump holds no usable cookie. Tokens and CSRF tokens
// are 32 octets of OpenSSL's CSPRNG (RAND_bytes), hex-encoded; the CSRF token is compared in
// constant time (CRYPTO_memcmp). Sessions end `lifetime` after login or `idle` after their last
// use, whichever is first; beyond max_sessions the least recently used one goes. Time is passed
// in.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "crypto/crypto.hpp"

namespace taube::console {

struct SessionLimits {
  std::chrono::seconds lifetime = std::chrono::hours(8);
  std::chrono::seconds idle = std::chrono::minutes(30);
  std::size_t max_sessions = 256;
};

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;
  struct Session {
    std::string user;
    std::string csrf;  // hex; sent back in the X-CSRF-Token header of every change
    Clock::time_point created, last_used;
  };
  struct Created {
    std::string token;  // the cookie's value (hex)
    Session session;
  };

  explicit SessionStore(SessionLimits limits) : limits_(limits) {}

  // A new session for `user`. Fails only when the CSPRNG does.
  tl::expected<Created, crypto::CryptoError> create(const std::string& user, Clock::time_point now);
  // The live session of `token` (its last use set to `now`), or null: unknown or expired (an
  // expired one is dropped).
  const Session* find(std::string_view token, Clock::time_point now);
  // The presented CSRF token is the session's (constant time; empty never matches).
  static bool csrf_matches(const Session& s, std::string_view presented);
  void remove(std::string_view token);
  std::size_t size() const { return sessions_.size(); }
  // Seconds until `s` ends at the latest (the lifetime), for the API's "expires_in".
  std::int64_t remaining(const Session& s, Clock::time_point now) const;

 private:
  static std::string key_of(std::string_view token);
  bool expired(const Session& s, Clock::time_point now) const;

  SessionLimits limits_;
  std::map<std::string, Session> sessions_;  // by SHA-256 of the token
};

// `n` random octets as 2n lowercase hex digits.
tl::expected<std::string, crypto::CryptoError> random_hex(std::size_t n);

}  // namespace taube::console
