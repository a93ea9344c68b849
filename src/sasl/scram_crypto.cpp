#include "sasl/scram_crypto.hpp"

#include "sasl/octets.hpp"

namespace taube::sasl {

tl::expected<ScramKeys, std::string> scram_keys(const Crypto& crypto,
                                                std::string_view salted_password) {
  if (salted_password.size() != kScramKeyLength)
    return tl::unexpected(std::string("SaltedPassword is not 32 octets"));
  ScramKeys k;
  k.client_key = crypto.hmac_sha256(salted_password, "Client Key");
  k.stored_key = crypto.sha256(k.client_key);
  k.server_key = crypto.hmac_sha256(salted_password, "Server Key");
  if (k.client_key.size() != kScramKeyLength || k.stored_key.size() != kScramKeyLength ||
      k.server_key.size() != kScramKeyLength) {
    wipe(k.client_key);
    return tl::unexpected(std::string("HMAC or SHA-256 failed"));
  }
  return k;
}

tl::expected<ScramSecret, std::string> scram_secret_from_salted_password(
    const Crypto& crypto, std::string_view salted_password, std::string salt, int iterations) {
  auto keys = scram_keys(crypto, salted_password);
  if (!keys) return tl::unexpected(keys.error());
  wipe(keys->client_key);  // the server must not keep it: with it, anyone can log in
  ScramSecret s;
  s.iterations = iterations;
  s.salt = std::move(salt);
  s.stored_key = std::move(keys->stored_key);
  s.server_key = std::move(keys->server_key);
  if (!is_valid(s)) return tl::unexpected(std::string("bad salt or iteration count"));
  return s;
}

std::string scram_auth_message(std::string_view client_first_bare, std::string_view server_first,
                               std::string_view client_final_without_proof) {
  std::string m;
  m.reserve(client_first_bare.size() + server_first.size() + client_final_without_proof.size() + 2);
  m.append(client_first_bare).append(",").append(server_first).append(",");
  m.append(client_final_without_proof);
  return m;
}

std::string scram_client_proof(const Crypto& crypto, const ScramKeys& keys,
                               std::string_view auth_message) {
  const std::string signature = crypto.hmac_sha256(keys.stored_key, auth_message);
  if (signature.size() != kScramKeyLength || keys.client_key.size() != kScramKeyLength) return {};
  return xor_octets(keys.client_key, signature);
}

bool scram_verify_proof(const Crypto& crypto, const ScramSecret& secret,
                        std::string_view auth_message, std::string_view client_proof) {
  if (client_proof.size() != kScramKeyLength || secret.stored_key.size() != kScramKeyLength)
    return false;
  const std::string signature = crypto.hmac_sha256(secret.stored_key, auth_message);
  if (signature.size() != kScramKeyLength) return false;
  std::string client_key = xor_octets(client_proof, signature);
  const std::string stored = crypto.sha256(client_key);
  wipe(client_key);
  return stored.size() == kScramKeyLength && constant_time_equal(stored, secret.stored_key);
}

std::string scram_server_signature(const Crypto& crypto, std::string_view server_key,
                                   std::string_view auth_message) {
  if (server_key.size() != kScramKeyLength) return {};
  std::string s = crypto.hmac_sha256(server_key, auth_message);
  return s.size() == kScramKeyLength ? s : std::string();
}

std::string scram_nonce(Crypto& crypto, std::size_t length) {
  const std::string octets = crypto.random_octets(length);
  if (octets.size() != length || length == 0) return {};
  std::string nonce(length, '\0');
  for (std::size_t i = 0; i < length; ++i)
    nonce[i] =
        kScramNonceAlphabet[static_cast<unsigned char>(octets[i]) % kScramNonceAlphabet.size()];
  return nonce;
}

}  // namespace taube::sasl
