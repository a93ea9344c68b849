#include "sasl/scram_crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/sasl_steps.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::sasl {
namespace {

using namespace testing::rfc7677;
using test::FakeSaslCrypto;

ScramKeys rfc_keys(const FakeSaslCrypto& c) {
  auto keys = scram_keys(c, c.pbkdf2_sha256(kPassword, salt(), 4096));
  EXPECT_TRUE(keys);
  return *keys;
}

TEST(ScramCrypto, Rfc7677ProofAndSignature) {
  FakeSaslCrypto c;
  const ScramKeys keys = rfc_keys(c);
  EXPECT_EQ(smtp::base64_encode(scram_client_proof(c, keys, kAuthMessage)), kProof);
  EXPECT_EQ(smtp::base64_encode(scram_server_signature(c, keys.server_key, kAuthMessage)),
            kServerSignature);
  auto secret =
      scram_secret_from_salted_password(c, c.pbkdf2_sha256(kPassword, salt(), 4096), salt(), 4096);
  ASSERT_TRUE(secret) << secret.error();
  EXPECT_EQ(secret->stored_key, keys.stored_key);
  EXPECT_EQ(secret->server_key, keys.server_key);
  EXPECT_TRUE(scram_verify_proof(c, *secret, kAuthMessage, *smtp::base64_decode(kProof)));
}

TEST(ScramCrypto, AuthMessageIsTheThreeMessagesJoined) {
  EXPECT_EQ(scram_auth_message("n=user,r=rOprNGfwEbeRWgbNEkqO", kServerFirst,
                               "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"),
            kAuthMessage);
}

TEST(ScramCrypto, WrongProofPasswordOrMessageFails) {
  FakeSaslCrypto c;
  auto s =
      scram_secret_from_salted_password(c, c.pbkdf2_sha256(kPassword, salt(), 4096), salt(), 4096);
  ASSERT_TRUE(s);
  std::string proof = *smtp::base64_decode(kProof);
  std::string flipped = proof;
  flipped[5] = static_cast<char>(flipped[5] ^ 0x01);
  EXPECT_FALSE(scram_verify_proof(c, *s, kAuthMessage, flipped));
  EXPECT_FALSE(scram_verify_proof(c, *s, kAuthMessage, proof.substr(0, 31)));
  EXPECT_FALSE(scram_verify_proof(c, *s, kAuthMessage, proof + "x"));
  EXPECT_FALSE(scram_verify_proof(c, *s, std::string(kAuthMessage) + "x", proof));
  auto other =
      scram_secret_from_salted_password(c, c.pbkdf2_sha256("pencil2", salt(), 4096), salt(), 4096);
  ASSERT_TRUE(other);
  EXPECT_FALSE(scram_verify_proof(c, *other, kAuthMessage, proof));
}

TEST(ScramCrypto, FailingPrimitivesNeverVerify) {
  FakeSaslCrypto c;
  auto s =
      scram_secret_from_salted_password(c, c.pbkdf2_sha256(kPassword, salt(), 4096), salt(), 4096);
  ASSERT_TRUE(s);
  const std::string proof = *smtp::base64_decode(kProof);
  c.hmac_fails = true;
  EXPECT_FALSE(scram_verify_proof(c, *s, kAuthMessage, proof));
  EXPECT_EQ(scram_server_signature(c, s->server_key, kAuthMessage), "");
  EXPECT_FALSE(scram_keys(c, std::string(32, 'x')));
  c.hmac_fails = false;
  c.sha256_fails = true;
  EXPECT_FALSE(scram_verify_proof(c, *s, kAuthMessage, proof));
  EXPECT_FALSE(scram_keys(c, std::string(32, 'x')));
}

TEST(ScramCrypto, SecretNeedsA32OctetSaltedPasswordAndValidParameters) {
  FakeSaslCrypto c;
  EXPECT_FALSE(scram_keys(c, std::string(31, 'x')));
  EXPECT_FALSE(scram_keys(c, ""));
  EXPECT_FALSE(scram_secret_from_salted_password(c, std::string(32, 'x'), "salt", 4095));
  EXPECT_FALSE(scram_secret_from_salted_password(c, std::string(32, 'x'), "", 4096));
  EXPECT_TRUE(scram_secret_from_salted_password(c, std::string(32, 'x'), "salt", 4096));
}

TEST(ScramNonce, PrintableWithoutCommaOfTheRequestedLength) {
  FakeSaslCrypto c;
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  c.queue_random(all);
  const std::string nonce = scram_nonce(c, 256);
  ASSERT_EQ(nonce.size(), 256u);
  std::set<char> seen;
  for (char ch : nonce) {
    EXPECT_TRUE(ch >= 0x21 && ch <= 0x7e && ch != ',') << static_cast<int>(ch);
    seen.insert(ch);
  }
  EXPECT_EQ(seen.size(), 93u);  // every octet value maps somewhere, all 93 characters are used
  c.queue_nonce(kServerNonce);
  EXPECT_EQ(scram_nonce(c, 30), kServerNonce);
}

TEST(ScramNonce, AFailingGeneratorGivesNoNonce) {
  FakeSaslCrypto c;
  c.random_fails = true;
  EXPECT_EQ(scram_nonce(c, kScramServerNonceLength), "");
  c.random_fails = false;
  EXPECT_EQ(scram_nonce(c, 0), "");
  EXPECT_EQ(scram_nonce(c, kScramClientNonceLength).size(), kScramClientNonceLength);
}

}  // namespace
}  // namespace taube::sasl
