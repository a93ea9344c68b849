#include "crypto/openssl_sasl.hpp"

#include "crypto/crypto.hpp"

namespace taube::crypto {

std::string OpenSslSasl::sha256(std::string_view data) const {
  return crypto::sha256(data).value_or(std::string());
}

std::string OpenSslSasl::hmac_sha256(std::string_view key, std::string_view data) const {
  return crypto::hmac_sha256(key, data).value_or(std::string());
}

std::string OpenSslSasl::random_octets(std::size_t n) {
  return crypto::random_octets(n).value_or(std::string());
}

std::string OpenSslSasl::pbkdf2_sha256(std::string_view password, std::string_view salt,
                                       int iterations) const {
  return crypto::pbkdf2_sha256(password, salt, iterations, kSha256Length).value_or(std::string());
}

}  // namespace taube::crypto
