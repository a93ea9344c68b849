// The SCRAM-SHA-256 secret a server stores for a user (RFC 5802 §3, RFC 7677), and its form in
// the users file. The server keeps StoredKey and ServerKey with the salt and iteration count,
// never the password: it can check a client's proof but cannot impersonate the client.
#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace taube::sasl {

struct ScramSecret {
  int iterations = 0;
  std::string salt;        // raw octets
  std::string stored_key;  // H(ClientKey), 32 octets
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), 32 octets
};

// RFC 7677 §4: the iteration count is at least 4096; it is also what `taube passwd` uses.
inline constexpr int kScramIterations = 4096;
inline constexpr int kScramMinIterations = 4096;
// The length of the salts Taube makes (for new secrets and for unknown users' stand-ins).
inline constexpr std::size_t kScramSaltLength = 16;
// SHA-256's output: the length of StoredKey, ServerKey, proofs and signatures.
inline constexpr std::size_t kScramKeyLength = 32;

// True for a secret the mechanism can use: iterations >= kScramMinIterations, a salt, and keys
// of kScramKeyLength octets.
bool is_valid(const ScramSecret& s);

// The users-file field: "scram-sha-256=<iterations>,<salt>,<StoredKey>,<ServerKey>", the
// octet strings in base64 (RFC 4648 §4).
inline constexpr std::string_view kScramFieldPrefix = "scram-sha-256=";
std::string format_scram_secret(const ScramSecret& s);
// Errors are short reasons ("expected 4 comma-separated values"); the result is_valid().
tl::expected<ScramSecret, std::string> parse_scram_secret(std::string_view field);

}  // namespace taube::sasl
