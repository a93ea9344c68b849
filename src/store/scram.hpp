// SCRAM-SHA-256 (RFC 5802, RFC 7677): the server's stored secret and the proof arithmetic.
// The server keeps only StoredKey and ServerKey (with salt and iteration count), never the
// password; the message parsing lives in src/smtp/sasl_scram.hpp.
#pragma once

#include <tl/expected.hpp>

#include <string>
#include <string_view>

namespace taube::store {

struct ScramSecret {
  int iterations = 0;
  std::string salt;        // raw octets
  std::string stored_key;  // H(ClientKey), 32 octets
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), 32 octets
};

// RFC 7677 §4: at least 4096 iterations.
inline constexpr int kScramIterations = 4096;

// Derives the secret for `password` (RFC 5802 §3). Empty salt: 16 random octets.
tl::expected<ScramSecret, std::string> scram_derive(std::string_view password,
                                                    std::string salt = {},
                                                    int iterations = kScramIterations);

// The users-file field: "scram-sha-256=<iterations>,<salt>,<StoredKey>,<ServerKey>" (base64).
std::string format_scram_secret(const ScramSecret& s);
tl::expected<ScramSecret, std::string> parse_scram_secret(std::string_view field);
inline constexpr std::string_view kScramFieldPrefix = "scram-sha-256=";

// RFC 5802 §3: ClientSignature = HMAC(StoredKey, AuthMessage); the proof is valid when
// H(proof XOR ClientSignature) == StoredKey (compared in constant time).
bool scram_verify_proof(const ScramSecret& s, std::string_view auth_message,
                        std::string_view client_proof);
// ServerSignature = HMAC(ServerKey, AuthMessage), raw octets.
std::string scram_server_signature(const ScramSecret& s, std::string_view auth_message);

// HMAC-SHA-256 and random octets, for the I/O layer (nonces, a per-process key).
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string random_octets(std::size_t n);

// Plain base64 (RFC 4648 §4) for the users file and SCRAM attributes.
std::string base64(std::string_view raw);
tl::expected<std::string, std::string> unbase64(std::string_view text);

}  // namespace taube::store
