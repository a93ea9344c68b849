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

}  // namespace taube::store
