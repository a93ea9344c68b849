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

bool scram_verify_proof(const ScramSecret& s, std::string_view auth_message,
                        std::string_view client_proof) {
  return sasl::scram_verify_proof(crypto::OpenSslSasl(), s, auth_message, client_proof);
}

std::string scram_server_signature(const ScramSecret& s, std::string_view auth_message) {
  return sasl::scram_server_signature(crypto::OpenSslSasl(), s.server_key, auth_message);
}

std::string random_octets(std::size_t n) {
  auto r = crypto::random_octets(n);
  if (!r) {
    std::fprintf(stderr, "taube: %s\n", std::string(crypto::to_string(r.error())).c_str());
    std::abort();
  }
  return std::move(*r);
}

std::string base64(std::string_view raw) {
  return smtp::base64_encode(raw);
}

tl::expected<std::string, std::string> unbase64(std::string_view text) {
  auto d = smtp::base64_decode(text);
  if (!d) return tl::unexpected(std::string("bad base64"));
  return std::move(*d);
}

}  // namespace taube::store
