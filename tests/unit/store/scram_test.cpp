#include "store/scram.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

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

ScramSecret rfc_secret() {
  auto s = scram_derive("pencil", *unbase64(kSalt), 4096);
  EXPECT_TRUE(s);
  return *s;
}

TEST(Scram, Rfc7677TestVector) {
  const ScramSecret s = rfc_secret();
  EXPECT_TRUE(scram_verify_proof(s, kAuthMessage, *unbase64(kProof)));
  EXPECT_EQ(base64(scram_server_signature(s, kAuthMessage)), kServerSignature);
}

TEST(Scram, WrongProofPasswordOrMessageFails) {
  const ScramSecret s = rfc_secret();
  std::string proof = *unbase64(kProof);
  proof[5] ^= 0x01;
  EXPECT_FALSE(scram_verify_proof(s, kAuthMessage, proof));
  EXPECT_FALSE(scram_verify_proof(s, kAuthMessage, proof.substr(0, 31)));
  EXPECT_FALSE(scram_verify_proof(s, std::string(kAuthMessage) + "x", *unbase64(kProof)));
  auto other = scram_derive("pencil2", *unbase64(kSalt), 4096);
  ASSERT_TRUE(other);
  EXPECT_FALSE(scram_verify_proof(*other, kAuthMessage, *unbase64(kProof)));
}

TEST(Scram, SecretRoundTripsThroughTheUsersFileField) {
  auto s = scram_derive("secret");  // random salt
  ASSERT_TRUE(s);
  EXPECT_EQ(s->salt.size(), 16u);
  EXPECT_EQ(s->iterations, kScramIterations);
  const std::string field = format_scram_secret(*s);
  EXPECT_EQ(field.rfind("scram-sha-256=4096,", 0), 0u) << field;
  auto back = parse_scram_secret(field);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->salt, s->salt);
  EXPECT_EQ(back->stored_key, s->stored_key);
  EXPECT_EQ(back->server_key, s->server_key);
  EXPECT_NE(scram_derive("secret")->salt, s->salt);
}

TEST(Scram, BadFieldsAreRejected) {
  const std::string key = base64(std::string(32, 'k'));
  for (const std::string bad : {
           "scram-sha-1=4096,c2FsdA==," + key + "," + key,    // another mechanism
           "scram-sha-256=4095,c2FsdA==," + key + "," + key,  // too few iterations
           "scram-sha-256=x,c2FsdA==," + key + "," + key,
           "scram-sha-256=4096,c2FsdA==," + key,           // 3 values
           "scram-sha-256=4096,," + key + "," + key,       // no salt
           "scram-sha-256=4096,c2FsdA==,c2hvcnQ=," + key,  // short key
           "scram-sha-256=4096,c2Fsd!==," + key + "," + key,
       }) {
    EXPECT_FALSE(parse_scram_secret(bad)) << bad;
  }
}

TEST(Scram, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(*unbase64("Zg=="), "f");
  EXPECT_EQ(*unbase64("Zm8="), "fo");
  EXPECT_EQ(*unbase64("Zm9v"), "foo");
  EXPECT_FALSE(unbase64("Zm9"));
  EXPECT_FALSE(unbase64("Zm9$"));
}

TEST(UserDbScram, ParsesTheOptionalField) {
  const ScramSecret s = rfc_secret();
  auto db = UserDb::parse("# users\nuser:$y$j9T$x$y:" + format_scram_secret(s) +
                              "\nplain:$6$abc$def\nlocked:!:" + format_scram_secret(s) + "\n",
                          "users");
  ASSERT_TRUE(db) << db.error();
  EXPECT_TRUE(db->has_scram());
  ASSERT_NE(db->scram_secret("user"), nullptr);
  EXPECT_TRUE(scram_verify_proof(*db->scram_secret("user"), kAuthMessage, *unbase64(kProof)));
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

TEST(UserDbScram, FakeSecretsAreStablePerNameAndNeverMatch) {
  UserDb db;
  const ScramSecret a1 = db.fake_scram_secret("ghost");
  const ScramSecret a2 = db.fake_scram_secret("ghost");
  const ScramSecret b = db.fake_scram_secret("other");
  EXPECT_EQ(a1.salt, a2.salt);  // asking twice must not reveal the user is unknown
  EXPECT_NE(a1.salt, b.salt);
  EXPECT_EQ(a1.iterations, kScramIterations);
  EXPECT_FALSE(scram_verify_proof(a1, kAuthMessage, *unbase64(kProof)));
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
