// SCRAM-SHA-256 arithmetic on OpenSSL's libcrypto (PBKDF2, HMAC, SHA-256, RAND_bytes).
#include "store/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace taube::store {

namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

std::string random_octets(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");  // the CSPRNG is broken: nothing is safe
  return out;
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(raw),
                                static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

tl::expected<std::string, std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return tl::unexpected(std::string("bad base64 length"));
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return tl::unexpected(std::string("bad base64 character"));
  }
  std::string out(3 * (text.size() / 4) + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(text),
                                static_cast<int>(text.size()));
  if (n < 0) return tl::unexpected(std::string("bad base64"));
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero octets.
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

tl::expected<ScramSecret, std::string> scram_derive(std::string_view password, std::string salt,
                                                    int iterations) {
  if (salt.empty()) salt = random_octets(16);
  std::string salted(SHA256_DIGEST_LENGTH, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(salted.size()),
                        reinterpret_cast<unsigned char*>(salted.data())) != 1)
    return tl::unexpected(std::string("PBKDF2 failed"));
  ScramSecret s;
  s.iterations = iterations;
  s.salt = std::move(salt);
  s.stored_key = sha256(hmac_sha256(salted, "Client Key"));
  s.server_key = hmac_sha256(salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  return s;
}

std::string format_scram_secret(const ScramSecret& s) {
  return std::string(kScramFieldPrefix) + std::to_string(s.iterations) + "," + base64(s.salt) +
         "," + base64(s.stored_key) + "," + base64(s.server_key);
}

tl::expected<ScramSecret, std::string> parse_scram_secret(std::string_view field) {
  if (field.substr(0, kScramFieldPrefix.size()) != kScramFieldPrefix)
    return tl::unexpected(std::string("not a scram-sha-256 secret"));
  field.remove_prefix(kScramFieldPrefix.size());
  std::vector<std::string_view> parts;
  while (true) {
    const auto comma = field.find(',');
    parts.push_back(field.substr(0, comma));
    if (comma == std::string_view::npos) break;
    field.remove_prefix(comma + 1);
  }
  if (parts.size() != 4) return tl::unexpected(std::string("expected 4 comma-separated values"));
  ScramSecret s;
  auto [p, ec] = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), s.iterations);
  if (ec != std::errc() || p != parts[0].data() + parts[0].size() || s.iterations < 4096)
    return tl::unexpected(std::string("iteration count must be a number >= 4096"));
  auto salt = unbase64(parts[1]);
  auto stored = unbase64(parts[2]);
  auto server = unbase64(parts[3]);
  if (!salt || salt->empty() || !stored || stored->size() != SHA256_DIGEST_LENGTH || !server ||
      server->size() != SHA256_DIGEST_LENGTH)
    return tl::unexpected(std::string("bad salt or key"));
  s.salt = std::move(*salt);
  s.stored_key = std::move(*stored);
  s.server_key = std::move(*server);
  return s;
}

bool scram_verify_proof(const ScramSecret& s, std::string_view auth_message,
                        std::string_view client_proof) {
  if (client_proof.size() != SHA256_DIGEST_LENGTH || s.stored_key.size() != SHA256_DIGEST_LENGTH)
    return false;
  const std::string signature = hmac_sha256(s.stored_key, auth_message);
  std::string client_key(SHA256_DIGEST_LENGTH, '\0');
  for (std::size_t i = 0; i < client_key.size(); ++i)
    client_key[i] = static_cast<char>(client_proof[i] ^ signature[i]);
  const std::string stored = sha256(client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return CRYPTO_memcmp(stored.data(), s.stored_key.data(), stored.size()) == 0;
}

std::string scram_server_signature(const ScramSecret& s, std::string_view auth_message) {
  return hmac_sha256(s.server_key, auth_message);
}

}  // namespace taube::store
