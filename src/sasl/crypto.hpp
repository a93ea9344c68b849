// The cryptography the SASL mechanisms need, as an interface: the library stays pure (no
// OpenSSL), the tests and the fuzzer inject a deterministic implementation, and src/crypto
// provides the real one (crypto::OpenSslSasl).
//
// The functions cannot report errors: an implementation that fails returns an empty string (or
// any string of the wrong length). The mechanisms check every length and fail the exchange, so
// a broken primitive can make authentication fail but never succeed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace taube::sasl {

struct Crypto {
  virtual ~Crypto();
  // SHA-256 (FIPS 180-4): 32 octets.
  virtual std::string sha256(std::string_view data) const = 0;
  // HMAC-SHA-256 (RFC 2104): 32 octets.
  virtual std::string hmac_sha256(std::string_view key, std::string_view data) const = 0;
  // `n` octets from a cryptographically secure generator (the SCRAM nonces).
  virtual std::string random_octets(std::size_t n) = 0;
};

// What a client needs in addition: SCRAM's SaltedPassword (RFC 5802 §3) is PBKDF2 over the
// password; a server only ever sees the secret derived from it.
struct ClientCrypto : Crypto {
  // PBKDF2 with HMAC-SHA-256 (RFC 8018 §5.2), 32 octets of output.
  virtual std::string pbkdf2_sha256(std::string_view password, std::string_view salt,
                                    int iterations) const = 0;
};

}  // namespace taube::sasl
