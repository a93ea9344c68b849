#include "store/scram.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "crypto/openssl_sasl.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/scram_secret.hpp"
#include "smtp/wire/base64.hpp"
#include "store/failing_fs.hpp"
#include "store/user_db.hpp"

namespace taube::store {
namespace {

// RFC 7677 §3: user "user", password "pencil".
constexpr const char* kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr const char* kAuthMessage =
    "n=user,r=rOprNGfwEbeRWgbNEkqO,"
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr const char* kProof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr const char* kServerSignature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

using sasl::format_scram_secret;
using sasl::kScramIterations;

std::string unb64(std::string_view s) {
  return smtp::base64_decode(s).value_or("(bad base64)");
}

bool verify(const ScramSecret& s, std::string_view auth_message, std::string_view proof) {
  return sasl::scram_verify_proof(crypto::OpenSslSasl(), s, auth_message, proof);
}

ScramSecret rfc_secret() {
  auto s = scram_derive("pencil", unb64(kSalt), 4096);
  EXPECT_TRUE(s);
  return *s;
}

TEST(ScramDerive, Rfc7677TestVector) {
  const ScramSecret s = rfc_secret();
  EXPECT_EQ(s.iterations, 4096);
  EXPECT_EQ(s.salt, unb64(kSalt));
  EXPECT_TRUE(verify(s, kAuthMessage, unb64(kProof)));
  EXPECT_EQ(smtp::base64_encode(
                sasl::scram_server_signature(crypto::OpenSslSasl(), s.server_key, kAuthMessage)),
            kServerSignature);
  auto other = scram_derive("pencil2", unb64(kSalt), 4096);
  ASSERT_TRUE(other);
  EXPECT_FALSE(verify(*other, kAuthMessage, unb64(kProof)));
}

TEST(ScramDerive, RandomSaltOfTheDefaultLength) {
  auto s = scram_derive("secret");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->salt.size(), sasl::kScramSaltLength);
  EXPECT_EQ(s->iterations, kScramIterations);
  EXPECT_TRUE(sasl::is_valid(*s));
  EXPECT_NE(scram_derive("secret")->salt, s->salt);
  const std::string field = format_scram_secret(*s);
  EXPECT_EQ(field.rfind("scram-sha-256=4096,", 0), 0u) << field;
}

TEST(ScramDerive, TooFewIterationsIsAnErrorNotAnException) {
  EXPECT_FALSE(scram_derive("secret", "salt", 4095));
  EXPECT_FALSE(scram_derive("secret", "salt", 0));
  EXPECT_TRUE(scram_derive("secret", "salt", 4096));
}

TEST(UserDbScram, ParsesTheOptionalField) {
  const ScramSecret s = rfc_secret();
  auto db = UserDb::parse("# users\nuser:$y$j9T$x$y:" + format_scram_secret(s) +
                              "\nplain:$6$abc$def\nlocked:!:" + format_scram_secret(s) + "\n",
                          "users");
  ASSERT_TRUE(db) << db.error();
  EXPECT_TRUE(db->has_scram());
  ASSERT_NE(db->scram_secret("user"), nullptr);
  EXPECT_TRUE(verify(*db->scram_secret("user"), kAuthMessage, unb64(kProof)));
  EXPECT_EQ(db->scram_secret("plain"), nullptr);   // crypt hash only: no SCRAM
  EXPECT_EQ(db->scram_secret("locked"), nullptr);  // locked accounts never authenticate
  EXPECT_EQ(db->scram_secret("nobody"), nullptr);
  auto none = UserDb::parse("a:$6$abc$def:extra:fields\n", "users");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_scram());
}

TEST(UserDbScram, BadSecretNamesTheLine) {
  auto db = UserDb::parse("a:$6$abc$def\nb:$6$abc$def:scram-sha-256=1,x,y,z\n", "users.txt");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().find("users.txt:2:"), std::string::npos) << db.error();
}

TEST(UserDbScram, SetPasswordWritesBothCryptHashAndScramSecret) {
  test::TempDir t;
  const std::string path = t / "users";
  ASSERT_TRUE(UserDb::set_password(path, "alice", "s3cret"));
  auto db = UserDb::load(path);
  ASSERT_TRUE(db) << db.error();
  EXPECT_TRUE(db->verify("alice", "s3cret"));
  EXPECT_FALSE(db->verify("alice", "wrong"));
  const ScramSecret* s = db->scram_secret("alice");
  ASSERT_NE(s, nullptr);
  // The stored secret is the one the password derives with the stored salt.
  auto again = scram_derive("s3cret", s->salt, s->iterations);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stored_key, s->stored_key);
  EXPECT_EQ(again->server_key, s->server_key);
}

}  // namespace
}  // namespace taube::store
