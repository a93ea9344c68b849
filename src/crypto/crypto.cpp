#include "crypto/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>

namespace taube::crypto {

namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}
bool fits_int(std::size_t n) {
  return n <= static_cast<std::size_t>(INT_MAX);
}

}  // namespace

std::string_view to_string(CryptoError e) {
  switch (e) {
    case CryptoError::InvalidArgument:
      return "invalid argument";
    case CryptoError::Digest:
      return "SHA-256 failed";
    case CryptoError::Mac:
      return "HMAC failed";
    case CryptoError::Kdf:
      return "PBKDF2 failed";
    case CryptoError::Random:
      return "the random number generator failed";
  }
  return "unknown crypto error";
}

tl::expected<std::string, CryptoError> sha256(std::string_view data) {
  std::string out(kSha256Length, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), bytes(out), &len, EVP_sha256(), nullptr) != 1 ||
      len != kSha256Length)
    return tl::unexpected(CryptoError::Digest);
  return out;
}

tl::expected<std::string, CryptoError> hmac_sha1(std::string_view key, std::string_view data) {
  if (!fits_int(key.size())) return tl::unexpected(CryptoError::InvalidArgument);
  std::string out(kSha1Length, '\0');
  unsigned int len = 0;
  static const char kNoKey = 0;  // as in hmac_sha256: never a null key pointer
  if (HMAC(EVP_sha1(), key.empty() ? &kNoKey : key.data(), static_cast<int>(key.size()),
           bytes(data), data.size(), bytes(out), &len) == nullptr ||
      len != kSha1Length)
    return tl::unexpected(CryptoError::Mac);
  return out;
}

tl::expected<std::string, CryptoError> hmac_sha256(std::string_view key, std::string_view data) {
  if (!fits_int(key.size())) return tl::unexpected(CryptoError::InvalidArgument);
  std::string out(kSha256Length, '\0');
  unsigned int len = 0;
  // HMAC() with a null key pointer would mean "reuse the previous key": give it a valid one.
  static const char kNoKey = 0;
  if (HMAC(EVP_sha256(), key.empty() ? &kNoKey : key.data(), static_cast<int>(key.size()),
           bytes(data), data.size(), bytes(out), &len) == nullptr ||
      len != kSha256Length)
    return tl::unexpected(CryptoError::Mac);
  return out;
}

tl::expected<std::string, CryptoError> pbkdf2_sha256(std::string_view password,
                                                     std::string_view salt, int iterations,
                                                     std::size_t length) {
  if (iterations < 1 || length == 0 || !fits_int(password.size()) || !fits_int(salt.size()) ||
      !fits_int(length))
    return tl::unexpected(CryptoError::InvalidArgument);
  std::string out(length, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), bytes(salt),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(length), bytes(out)) != 1) {
    cleanse(out);
    return tl::unexpected(CryptoError::Kdf);
  }
  return out;
}

tl::expected<std::string, CryptoError> random_octets(std::size_t n) {
  if (!fits_int(n)) return tl::unexpected(CryptoError::InvalidArgument);
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(bytes(out), static_cast<int>(n)) != 1)
    return tl::unexpected(CryptoError::Random);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace taube::crypto
