// Cryptographic primitives on OpenSSL's libcrypto, for the layers above the pure libraries
// (store: `taube passwd`; net: nonces and keys). Every fallible function returns
// tl::expected and never throws; outputs are raw octets in std::string.
#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace taube::crypto {

enum class CryptoError {
  InvalidArgument,  // a length or count OpenSSL cannot take (over INT_MAX, iterations < 1)
  Digest,           // SHA-256 failed
  Mac,              // HMAC failed
  Kdf,              // PBKDF2 failed
  Random,           // the CSPRNG failed (RAND_bytes): nothing that needs randomness is safe
};
std::string_view to_string(CryptoError e);

inline constexpr std::size_t kSha256Length = 32;

// SHA-256 (FIPS 180-4) of `data`: 32 octets.
tl::expected<std::string, CryptoError> sha256(std::string_view data);
// HMAC-SHA-256 (RFC 2104): 32 octets.
tl::expected<std::string, CryptoError> hmac_sha256(std::string_view key, std::string_view data);
// HMAC-SHA-1 (RFC 2104, FIPS 180-4): 20 octets. Only for SRS (policy/srs.hpp), whose de-facto
// format (libsrs2) fixes SHA-1; HMAC-SHA-1 is not affected by SHA-1's collision attacks (RFC 6194
// §3).
inline constexpr std::size_t kSha1Length = 20;
tl::expected<std::string, CryptoError> hmac_sha1(std::string_view key, std::string_view data);
// PBKDF2 with HMAC-SHA-256 as the PRF (RFC 8018 §5.2): `length` octets.
tl::expected<std::string, CryptoError> pbkdf2_sha256(std::string_view password,
                                                     std::string_view salt, int iterations,
                                                     std::size_t length);
// `n` octets from OpenSSL's CSPRNG.
tl::expected<std::string, CryptoError> random_octets(std::size_t n);

// Equal length and content; the time taken depends on the length only, never on where the
// contents differ (CRYPTO_memcmp). Lengths are not secret in any of Taube's uses.
bool constant_time_equal(std::string_view a, std::string_view b);

// Overwrites `s` with zeros in a way the optimiser keeps (OPENSSL_cleanse), then clears it.
void cleanse(std::string& s);

}  // namespace taube::crypto
