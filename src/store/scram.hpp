// SCRAM-SHA-256 secrets for the users file: deriving one from a password (`taube passwd`). The
// secret type, its users-file field and the mechanism live in src/sasl; the primitives in
// src/crypto.
#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "sasl/scram_secret.hpp"

namespace taube::store {

using ScramSecret = sasl::ScramSecret;

// Derives the secret for `password` (RFC 5802 §3): SaltedPassword = PBKDF2-HMAC-SHA-256(password,
// salt, iterations), then StoredKey and ServerKey. Empty salt: sasl::kScramSaltLength random
// octets. Errors are short reasons (the CSPRNG or PBKDF2 failed, iterations < 4096).
tl::expected<ScramSecret, std::string> scram_derive(std::string_view password,
                                                    std::string salt = {},
                                                    int iterations = sasl::kScramIterations);

// transitional: removed when net uses sasl:: (src/net/connection.cpp still calls these).
// SCRAM proof check and ServerSignature on OpenSSL (sasl::scram_verify_proof and
// sasl::scram_server_signature with crypto::OpenSslSasl).
bool scram_verify_proof(const ScramSecret& s, std::string_view auth_message,
                        std::string_view client_proof);
// transitional: removed when net uses sasl::
std::string scram_server_signature(const ScramSecret& s, std::string_view auth_message);
// transitional: removed when net uses sasl:: (crypto::random_octets; aborts the process when the
// CSPRNG fails: a SCRAM exchange without a fresh server nonce could be replayed).
std::string random_octets(std::size_t n);
// transitional: removed when net uses sasl:: (smtp::base64_encode / smtp::base64_decode).
std::string base64(std::string_view raw);
tl::expected<std::string, std::string> unbase64(std::string_view text);

}  // namespace taube::store
