// SCRAM-SHA-256, client side (RFC 5802, RFC 7677).
#include <gtest/gtest.h>

#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/client_mechanism.hpp"
#include "sasl/sasl_steps.hpp"
#include "sasl/scram_crypto.hpp"

namespace taube::sasl {
namespace {

using namespace testing::rfc7677;

class ScramClientTest : public ::testing::Test {
 protected:
  ScramClientTest() { crypto_.queue_nonce(kClientNonce); }
  test::FakeSaslCrypto crypto_;
  std::unique_ptr<ClientMechanism> client_ =
      make_client_mechanism("SCRAM-SHA-256", {"", "user", kPassword}, crypto_);

  std::string first() {
    auto ir = client_->initial_response();
    EXPECT_TRUE(ir && *ir);
    return ir && *ir ? **ir : std::string();
  }
};

TEST_F(ScramClientTest, Rfc7677ExampleExchangeExactly) {
  EXPECT_EQ(client_->name(), "SCRAM-SHA-256");
  EXPECT_EQ(first(), kClientFirst);
  auto fin = client_->respond(kServerFirst);
  ASSERT_TRUE(fin) << fin.error();
  EXPECT_EQ(*fin, kClientFinal);
  EXPECT_FALSE(client_->succeeded(std::nullopt));  // the server has not proved itself yet
  auto empty = client_->respond(kServerFinal);
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_EQ(*empty, "");  // SMTP: the empty response to the 334 carrying server-final
  EXPECT_TRUE(client_->succeeded(std::nullopt));
}

TEST_F(ScramClientTest, ServerFinalAsAdditionalDataWithSuccess) {
  first();
  ASSERT_TRUE(client_->respond(kServerFirst));
  EXPECT_TRUE(client_->succeeded(std::string_view(kServerFinal)));
}

TEST_F(ScramClientTest, WithoutInitialResponseAnswersTheEmptyChallenge) {
  auto r = client_->respond("");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, kClientFirst);
}

TEST_F(ScramClientTest, WrongServerSignatureFails) {
  first();
  ASSERT_TRUE(client_->respond(kServerFirst));
  std::string forged = kServerFinal;
  forged[4] = forged[4] == 'A' ? 'B' : 'A';
  auto r = client_->respond(forged);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "SCRAM: wrong server signature");
  EXPECT_FALSE(client_->succeeded(std::nullopt));
  EXPECT_FALSE(client_->respond(kServerFinal));  // no second chance
}

TEST_F(ScramClientTest, WrongSignatureAsAdditionalDataFails) {
  first();
  ASSERT_TRUE(client_->respond(kServerFirst));
  EXPECT_FALSE(client_->succeeded(std::string_view("v=AAAA")));
}

TEST_F(ScramClientTest, SuccessWithoutServerFinalIsNotTrusted) {
  // A server that answers the client-final with 235 right away never showed it knows the key.
  first();
  ASSERT_TRUE(client_->respond(kServerFirst));
  EXPECT_FALSE(client_->succeeded(std::nullopt));
}

TEST_F(ScramClientTest, ServerErrorFails) {
  first();
  ASSERT_TRUE(client_->respond(kServerFirst));
  auto r = client_->respond("e=invalid-proof");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "SCRAM: server error invalid-proof");
}

TEST_F(ScramClientTest, ServerNonceMustExtendTheClients) {
  first();
  EXPECT_FALSE(client_->respond("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
}

TEST_F(ScramClientTest, ServerNonceWithAnotherPrefixFails) {
  first();
  EXPECT_FALSE(client_->respond("r=XOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
}

TEST_F(ScramClientTest, MalformedServerFirstFails) {
  first();
  EXPECT_FALSE(client_->respond("m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
}

TEST(ScramClient, IterationCountLimits) {
  // RFC 7677 §4's minimum and Taube's maximum, each at N and one past it. PBKDF2 is not run for
  // refused counts.
  const auto attempt = [](int iterations) {
    test::FakeSaslCrypto crypto;
    crypto.queue_nonce(kClientNonce);
    crypto.pbkdf2_fails = true;  // cheap: the count check comes first, PBKDF2's result is moot
    auto c = make_client_mechanism("SCRAM-SHA-256", {"", "user", kPassword}, crypto);
    (void)c->initial_response();
    auto r = c->respond("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=" +
                        std::to_string(iterations));
    EXPECT_FALSE(r);  // PBKDF2 "failed", or the count was refused
    return crypto.pbkdf2_calls;
  };
  EXPECT_EQ(attempt(kScramMinIterations), 1);
  EXPECT_EQ(attempt(kScramMinIterations - 1), 0);
  EXPECT_EQ(attempt(kScramClientMaxIterations), 1);
  EXPECT_EQ(attempt(kScramClientMaxIterations + 1), 0);
}

TEST(ScramClient, FailingPrimitivesFail) {
  {
    test::FakeSaslCrypto crypto;
    crypto.random_fails = true;
    auto c = make_client_mechanism("SCRAM-SHA-256", {"", "user", kPassword}, crypto);
    EXPECT_FALSE(c->initial_response());
  }
  {
    test::FakeSaslCrypto crypto;
    crypto.queue_nonce(kClientNonce);
    auto c = make_client_mechanism("SCRAM-SHA-256", {"", "user", kPassword}, crypto);
    ASSERT_TRUE(c->initial_response());
    crypto.pbkdf2_fails = true;
    EXPECT_FALSE(c->respond(kServerFirst));
  }
  {
    test::FakeSaslCrypto crypto;
    crypto.queue_nonce(kClientNonce);
    auto c = make_client_mechanism("SCRAM-SHA-256", {"", "user", kPassword}, crypto);
    ASSERT_TRUE(c->initial_response());
    crypto.hmac_fails = true;
    EXPECT_FALSE(c->respond(kServerFirst));
  }
}

TEST(ScramClient, NamesAreEscapedAndAuthzidGoesInTheGs2Header) {
  test::FakeSaslCrypto crypto;
  crypto.queue_nonce(kClientNonce);
  auto c = make_client_mechanism("scram-sha-256", {"a,b", "a,b=c", "pw"}, crypto);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(**c->initial_response(), "n,a=a=2Cb,n=a=2Cb=3Dc,r=rOprNGfwEbeRWgbNEkqO");
}

TEST(ScramClient, RefusesNamesItCannotSend) {
  test::FakeSaslCrypto crypto;
  EXPECT_FALSE(make_client_mechanism("SCRAM-SHA-256", {"", "", "pw"}, crypto)->initial_response());
  EXPECT_FALSE(make_client_mechanism("SCRAM-SHA-256", {"", std::string("u\0", 2), "pw"}, crypto)
                   ->initial_response());
}

TEST(ScramClient, NonEmptyFirstChallengeFails) {
  test::FakeSaslCrypto crypto;
  auto c = make_client_mechanism("SCRAM-SHA-256", {"", "user", "pw"}, crypto);
  EXPECT_FALSE(c->respond("unexpected"));
}

}  // namespace
}  // namespace taube::sasl
