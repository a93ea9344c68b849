#include "crypto/crypto.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <string>

namespace taube::crypto {
namespace {

std::string hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    out += kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

std::string hmac_hex(std::string_view key, std::string_view data) {
  auto r = hmac_sha256(key, data);
  EXPECT_TRUE(r);
  return r ? hex(*r) : std::string();
}

std::string pbkdf2_hex(std::string_view password, std::string_view salt, int iterations,
                       std::size_t length) {
  auto r = pbkdf2_sha256(password, salt, iterations, length);
  EXPECT_TRUE(r);
  return r ? hex(*r) : std::string();
}

TEST(Sha256, Fips180Examples) {
  EXPECT_EQ(hex(*sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(*sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(*sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// RFC 4231 §4.2-§4.8.
TEST(HmacSha256, Rfc4231TestCases) {
  EXPECT_EQ(hmac_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_hex(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  std::string key4;
  for (char c = 1; c <= 25; ++c) key4 += c;
  EXPECT_EQ(hmac_hex(key4, std::string(50, '\xcd')),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Test case 5 specifies only the first 128 bits of the output.
  EXPECT_EQ(hmac_hex(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
  const std::string key131(131, '\xaa');  // longer than the block: hashed first
  EXPECT_EQ(hmac_hex(key131, "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hmac_hex(key131,
                     "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the HMAC "
                     "algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

// RFC 2202 §3 (test cases 1, 2 and 6); the empty key as for SHA-256 below.
TEST(HmacSha1, Rfc2202TestCases) {
  auto h = [](std::string_view key, std::string_view data) {
    auto r = hmac_sha1(key, data);
    return r ? hex(*r) : std::string();
  };
  EXPECT_EQ(h(std::string(20, '\x0b'), "Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(h("Jefe", "what do ya want for nothing?"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(h(std::string(80, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First"),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  EXPECT_EQ(h("", ""), "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
}

TEST(HmacSha256, EmptyKeyAndData) {
  // An empty key is a valid (zero-padded) HMAC key, not "reuse the previous one".
  EXPECT_EQ(hmac_hex("", ""), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(hmac_hex("", "x"), hmac_hex(std::string(64, '\0'), "x"));
}

// The PBKDF2-HMAC-SHA256 vectors published alongside RFC 6070's SHA-1 ones, and RFC 7914 §11.
TEST(Pbkdf2Sha256, KnownVectors) {
  EXPECT_EQ(pbkdf2_hex("password", "salt", 1, 32),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  EXPECT_EQ(pbkdf2_hex("password", "salt", 2, 32),
            "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
  EXPECT_EQ(pbkdf2_hex("password", "salt", 4096, 32),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
  EXPECT_EQ(
      pbkdf2_hex("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40),
      "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9");
  EXPECT_EQ(pbkdf2_hex(std::string("pass\0word", 9), std::string("sa\0lt", 5), 4096, 16),
            "89b69d0516f829893c696226650a8687");
  EXPECT_EQ(pbkdf2_hex("passwd", "salt", 1, 64),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
            "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST(Pbkdf2Sha256, InvalidArgumentsAreErrorsNotExceptions) {
  EXPECT_EQ(pbkdf2_sha256("p", "s", 0, 32).error(), CryptoError::InvalidArgument);
  EXPECT_EQ(pbkdf2_sha256("p", "s", -1, 32).error(), CryptoError::InvalidArgument);
  EXPECT_EQ(pbkdf2_sha256("p", "s", 1, 0).error(), CryptoError::InvalidArgument);
  EXPECT_EQ(pbkdf2_sha256("p", "s", 1, std::size_t{INT_MAX} + 1).error(),
            CryptoError::InvalidArgument);
  EXPECT_TRUE(pbkdf2_sha256("p", "s", 1, 1));
}

TEST(RandomOctets, LengthAndVariety) {
  for (std::size_t n : {0u, 1u, 16u, 18u, 32u, 1000u}) {
    auto r = random_octets(n);
    ASSERT_TRUE(r) << n;
    EXPECT_EQ(r->size(), n);
  }
  // Two 32-octet draws colliding has probability 2^-256: a failure means the generator is not
  // random at all.
  EXPECT_NE(*random_octets(32), *random_octets(32));
  EXPECT_NE(*random_octets(32), std::string(32, '\0'));
  EXPECT_EQ(random_octets(std::size_t{INT_MAX} + 1).error(), CryptoError::InvalidArgument);
}

TEST(ConstantTimeEqual, ComparesLengthAndContent) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("abc", "xbc"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Cleanse, ZeroesAndClears) {
  std::string s = "secret";
  cleanse(s);
  EXPECT_TRUE(s.empty());
}

TEST(CryptoError, EveryErrorHasAText) {
  for (auto e : {CryptoError::InvalidArgument, CryptoError::Digest, CryptoError::Mac,
                 CryptoError::Kdf, CryptoError::Random})
    EXPECT_NE(to_string(e), "unknown crypto error");
}

}  // namespace
}  // namespace taube::crypto
