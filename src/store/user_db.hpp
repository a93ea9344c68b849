// UserDb: the SMTP AUTH users file, in the conventional "user:hash" format (one per line, '#'
// comments, extra ':' fields ignored like /etc/shadow), where the hash is anything libxcrypt's
// crypt(3) verifies: yescrypt ($y$), sha512-crypt ($6$), bcrypt ($2b$) ... so entries can be made
// with `mkpasswd`, `openssl passwd -6` or `taube passwd`. An optional further field
// "scram-sha-256=<iterations>,<salt>,<StoredKey>,<ServerKey>" (written by `taube passwd`) lets
// the user authenticate with SCRAM-SHA-256 (RFC 7677), which never sends the password.
#pragma once

#include "store/scram.hpp"

#include <map>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace taube::store {

class UserDb {
 public:
  UserDb();
  // Errors name the file and line ("users:3: expected user:hash").
  static tl::expected<UserDb, std::string> load(const std::string& path);
  static tl::expected<UserDb, std::string> parse(std::string_view text, const std::string& name);

  // Verifies a password. Always performs one crypt(3) computation, with a dummy hash for an
  // unknown user, and compares in constant time, so the failure paths take the same time.
  // Slow by design (yescrypt): call it from a worker thread.
  bool verify(std::string_view user, std::string_view password) const;
  bool contains(std::string_view user) const { return users_.count(std::string(user)) != 0; }
  std::size_t size() const { return users_.size(); }

  // SCRAM-SHA-256: the user's secret, or nullptr when the entry has none (or no such user).
  const ScramSecret* scram_secret(std::string_view user) const;
  bool has_scram() const { return !scram_.empty(); }
  // A stand-in for a user without a secret (RFC 5802 §5.1: do not reveal whether the user
  // exists): the same salt for the same name within this process, keys nobody can match.

  // A new hash for `password` with the strongest method libxcrypt offers (yescrypt).
  static tl::expected<std::string, std::string> hash_password(std::string_view password);

  // Adds or replaces USER in the file at `path` (created 0600 if missing), atomically
  // (write to a temp file, fsync, rename).
  static tl::expected<void, std::string> set_password(const std::string& path,
                                                      std::string_view user,
                                                      std::string_view password);

 private:
  std::map<std::string, std::string> users_;
  std::map<std::string, ScramSecret> scram_;
  std::string dummy_hash_;
};

}  // namespace taube::store
