#include "store/scram.hpp"

#include <cstdio>
#include <cstdlib>

#include "crypto/crypto.hpp"
#include "crypto/openssl_sasl.hpp"
#include "sasl/scram_crypto.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::store {

tl::expected<ScramSecret, std::string> scram_derive(std::string_view password, std::string salt,
                                                    int iterations) {
  if (salt.empty()) {
    auto random = crypto::random_octets(sasl::kScramSaltLength);
    if (!random) return tl::unexpected(std::string(crypto::to_string(random.error())));
    salt = std::move(*random);
  }
  auto salted = crypto::pbkdf2_sha256(password, salt, iterations, sasl::kScramKeyLength);
  if (!salted) return tl::unexpected(std::string(crypto::to_string(salted.error())));
  const crypto::OpenSslSasl primitives;
  auto secret =
      sasl::scram_secret_from_salted_password(primitives, *salted, std::move(salt), iterations);
  crypto::cleanse(*salted);
  return secret;
}

}  // namespace taube::store
