// SCRAM-SHA-256, server side (RFC 5802, RFC 7677).
#include <gtest/gtest.h>

#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/sasl_steps.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/scram_messages.hpp"
#include "sasl/server_mechanism.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::sasl {
namespace {

using namespace testing::rfc7677;
using testing::describe;
using testing::is;

ScramSecret secret_for(const test::FakeSaslCrypto& c, std::string_view password,
                       std::string salt_octets = salt()) {
  auto s = scram_secret_from_salted_password(c, c.pbkdf2_sha256(password, salt_octets, 4096),
                                             salt_octets, 4096);
  EXPECT_TRUE(s);
  return *s;
}

// What a client knowing `password` answers to `server_first` (RFC 5802 §3), with the given
// GS2 header in c=.
std::string client_final(const test::FakeSaslCrypto& c, std::string_view gs2, std::string_view bare,
                         std::string_view server_first, std::string_view password) {
  auto sf = parse_scram_server_first(server_first);
  EXPECT_TRUE(sf);
  if (!sf) return {};
  auto keys = scram_keys(c, c.pbkdf2_sha256(password, sf->salt, sf->iterations));
  EXPECT_TRUE(keys);
  if (!keys) return {};
  const std::string without_proof = "c=" + smtp::base64_encode(gs2) + ",r=" + sf->nonce;
  const std::string auth = scram_auth_message(bare, server_first, without_proof);
  return without_proof + ",p=" + smtp::base64_encode(scram_client_proof(c, *keys, auth));
}

class ScramServerTest : public ::testing::Test {
 protected:
  // Runs client-first and the secret lookup; returns server-first.
  std::string first(std::string_view client_first, std::optional<ScramSecret> secret) {
    const ServerStep lookup = mech_->start(client_first);
    EXPECT_TRUE(is<LookupSecret>(lookup)) << describe(lookup);
    const ServerStep challenge = mech_->provide_secret(std::move(secret));
    EXPECT_TRUE(is<Challenge>(challenge)) << describe(challenge);
    return is<Challenge>(challenge) ? std::get<Challenge>(challenge).data : std::string();
  }

  test::FakeSaslCrypto crypto_;
  std::unique_ptr<ServerMechanism> mech_ =
      make_server_mechanism("SCRAM-SHA-256", crypto_, "per-process key");
};

TEST_F(ScramServerTest, Rfc7677ExampleExchangeExactly) {
  EXPECT_EQ(mech_->name(), "SCRAM-SHA-256");
  crypto_.queue_nonce(kServerNonce);
  const ServerStep lookup = mech_->start(kClientFirst);
  ASSERT_TRUE(is<LookupSecret>(lookup)) << describe(lookup);
  EXPECT_EQ(std::get<LookupSecret>(lookup).username, "user");
  const ServerStep server_first = mech_->provide_secret(secret_for(crypto_, kPassword));
  ASSERT_TRUE(is<Challenge>(server_first)) << describe(server_first);
  EXPECT_EQ(std::get<Challenge>(server_first).data, kServerFirst);
  const ServerStep done = mech_->step(kClientFinal);
  ASSERT_TRUE(is<Success>(done)) << describe(done);
  EXPECT_EQ(std::get<Success>(done).data, kServerFinal);
  EXPECT_EQ(mech_->username(), "user");
  EXPECT_TRUE(mech_->finished());
  EXPECT_TRUE(is<Failure>(mech_->step("")));  // over
}

TEST_F(ScramServerTest, WithoutInitialResponseAnEmptyChallengeFirst) {
  crypto_.queue_nonce(kServerNonce);
  const ServerStep empty = mech_->start(std::nullopt);
  ASSERT_TRUE(is<Challenge>(empty)) << describe(empty);
  EXPECT_EQ(std::get<Challenge>(empty).data, "");
  ASSERT_TRUE(is<LookupSecret>(mech_->step(kClientFirst)));
  const ServerStep sf = mech_->provide_secret(secret_for(crypto_, kPassword));
  ASSERT_TRUE(is<Challenge>(sf));
  EXPECT_EQ(std::get<Challenge>(sf).data, kServerFirst);
  EXPECT_TRUE(is<Success>(mech_->step(kClientFinal)));
}

TEST_F(ScramServerTest, WrongProofFails) {
  crypto_.queue_nonce(kServerNonce);
  first(kClientFirst, secret_for(crypto_, kPassword));
  std::string final_msg = kClientFinal;
  final_msg[final_msg.size() - 5] = final_msg[final_msg.size() - 5] == 'A' ? 'B' : 'A';
  const ServerStep s = mech_->step(final_msg);
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(std::get<Failure>(s).reason, "SCRAM: wrong proof");
}

TEST_F(ScramServerTest, ProofFromAnotherPasswordFails) {
  const std::string sf = first(kClientFirst, secret_for(crypto_, kPassword));
  const ServerStep s =
      mech_->step(client_final(crypto_, "n,,", "n=user,r=rOprNGfwEbeRWgbNEkqO", sf, "pencil2"));
  EXPECT_TRUE(is<Failure>(s)) << describe(s);
}

TEST_F(ScramServerTest, WrongNonceFails) {
  // The RFC's client-final answers a server nonce this exchange did not send (the fake's
  // counter gives another one): even a correct-looking proof for another exchange is refused.
  const std::string sf = first(kClientFirst, secret_for(crypto_, kPassword));
  ASSERT_NE(sf, kServerFirst);
  const ServerStep s = mech_->step(kClientFinal);
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(std::get<Failure>(s).reason, "SCRAM: wrong nonce");
}

TEST_F(ScramServerTest, ClientNonceAloneIsNotTheCombinedNonce) {
  first(kClientFirst, secret_for(crypto_, kPassword));
  EXPECT_TRUE(is<Failure>(mech_->step("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" + std::string(kProof))));
}

TEST_F(ScramServerTest, ChannelBindingMustEchoTheGs2Header) {
  // "n,," must come back as c=biws; "y,," (eSws) or extra binding data do not match.
  const std::string sf = first(kClientFirst, secret_for(crypto_, kPassword));
  const ServerStep s =
      mech_->step(client_final(crypto_, "y,,", "n=user,r=rOprNGfwEbeRWgbNEkqO", sf, kPassword));
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(std::get<Failure>(s).reason, "SCRAM: channel binding does not match the GS2 header");
}

TEST_F(ScramServerTest, ChannelBindingDataIsRefused) {
  const std::string sf = first(kClientFirst, secret_for(crypto_, kPassword));
  const std::string gs2_with_data = std::string("n,,") + "tls-unique-data";
  EXPECT_TRUE(is<Failure>(mech_->step(
      client_final(crypto_, gs2_with_data, "n=user,r=rOprNGfwEbeRWgbNEkqO", sf, kPassword))));
}

TEST_F(ScramServerTest, YFlagIsAcceptedWithoutPlus) {
  // RFC 5802 §6: "y" means the client could bind but thinks the server cannot, which is true.
  const std::string sf = first("y,,n=user,r=abcdef", secret_for(crypto_, kPassword));
  const ServerStep s = mech_->step(client_final(crypto_, "y,,", "n=user,r=abcdef", sf, kPassword));
  EXPECT_TRUE(is<Success>(s)) << describe(s);
}

TEST(ScramServer, ChannelBindingRequestIsRefused) {
  test::FakeSaslCrypto crypto;
  auto m = make_server_mechanism("SCRAM-SHA-256", crypto);
  const ServerStep s = m->start("p=tls-unique,,n=user,r=abc");
  EXPECT_TRUE(is<Failure>(s)) << describe(s);
}

TEST_F(ScramServerTest, AuthzidEqualToTheUserIsAccepted) {
  const std::string sf = first("n,a=user,n=user,r=abc", secret_for(crypto_, kPassword));
  EXPECT_TRUE(
      is<Success>(mech_->step(client_final(crypto_, "n,a=user,", "n=user,r=abc", sf, kPassword))));
}

TEST(ScramServer, AuthzidOfAnotherIdentityIsRefused) {
  test::FakeSaslCrypto crypto;
  auto m = make_server_mechanism("SCRAM-SHA-256", crypto);
  const ServerStep s = m->start("n,a=admin,n=user,r=abc");
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(m->username(), "user");
}

TEST(ScramServer, MalformedClientFirstFails) {
  test::FakeSaslCrypto crypto;
  for (const char* bad : {"", "n,,", "n,,n=user", "n,,m=x,n=user,r=abc", "x,,n=user,r=abc"}) {
    auto m = make_server_mechanism("SCRAM-SHA-256", crypto);
    EXPECT_TRUE(is<Failure>(m->start(bad))) << bad;
  }
}

TEST_F(ScramServerTest, MalformedClientFinalFails) {
  first(kClientFirst, secret_for(crypto_, kPassword));
  EXPECT_TRUE(is<Failure>(mech_->step("garbage")));
}

TEST(ScramServer, UnknownUserLooksLikeAWrongPassword) {
  // Same per-process key: the server-first messages have the same shape, the stand-in salt is
  // stable per name, and both exchanges fail at the proof, after the same work.
  test::FakeSaslCrypto crypto;
  const auto run = [&crypto](std::string_view user, std::optional<ScramSecret> secret,
                             std::string* server_first) {
    auto m = make_server_mechanism("SCRAM-SHA-256", crypto, "per-process key");
    const std::string bare = "n=" + std::string(user) + ",r=clientnonce";
    EXPECT_TRUE(is<LookupSecret>(m->start("n,," + bare)));
    crypto.queue_nonce("012345678901234567890123456789");
    const ServerStep c = m->provide_secret(std::move(secret));
    EXPECT_TRUE(is<Challenge>(c)) << describe(c);
    *server_first = std::get<Challenge>(c).data;
    const int calls_before = crypto.calls;
    const ServerStep f = m->step(client_final(crypto, "n,,", bare, *server_first, "guess"));
    EXPECT_TRUE(is<Failure>(f)) << describe(f);
    return crypto.calls - calls_before;
  };
  std::string known, ghost, ghost_again, other;
  const int known_work = run("user", secret_for(crypto, kPassword), &known);
  const int ghost_work = run("ghost", std::nullopt, &ghost);
  run("ghost", std::nullopt, &ghost_again);
  run("other", std::nullopt, &other);
  EXPECT_EQ(known_work, ghost_work);  // the same primitives for both
  auto k = parse_scram_server_first(known);
  auto g = parse_scram_server_first(ghost);
  ASSERT_TRUE(k && g);
  EXPECT_EQ(k->nonce, g->nonce);  // same client nonce, same server nonce from the queue
  EXPECT_EQ(g->iterations, k->iterations);
  EXPECT_EQ(g->salt.size(), k->salt.size());
  EXPECT_EQ(ghost, ghost_again);  // asking twice gives nothing away
  EXPECT_NE(parse_scram_server_first(other)->salt, g->salt);
  // Another process (another key) has other stand-in salts.
  auto m = make_server_mechanism("SCRAM-SHA-256", crypto, "another key");
  m->start("n,,n=ghost,r=clientnonce");
  const ServerStep c = m->provide_secret(std::nullopt);
  EXPECT_NE(parse_scram_server_first(std::get<Challenge>(c).data)->salt, g->salt);
}

TEST_F(ScramServerTest, UnknownUserFailsEvenWithTheRfcProof) {
  crypto_.queue_nonce(kServerNonce);
  first(kClientFirst, std::nullopt);
  const ServerStep s = mech_->step(kClientFinal);
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(std::get<Failure>(s).reason, "SCRAM: unknown user");
}

TEST_F(ScramServerTest, InvalidStoredSecretFails) {
  ASSERT_TRUE(is<LookupSecret>(mech_->start(kClientFirst)));
  ScramSecret bad = secret_for(crypto_, kPassword);
  bad.stored_key.pop_back();
  EXPECT_TRUE(is<Failure>(mech_->provide_secret(bad)));
}

TEST_F(ScramServerTest, FailingRandomGeneratorFails) {
  ASSERT_TRUE(is<LookupSecret>(mech_->start(kClientFirst)));
  crypto_.random_fails = true;
  const ServerStep s = mech_->provide_secret(secret_for(crypto_, kPassword));
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
}

TEST_F(ScramServerTest, FailingHmacNeverSucceeds) {
  crypto_.queue_nonce(kServerNonce);
  first(kClientFirst, secret_for(crypto_, kPassword));
  crypto_.hmac_fails = true;
  EXPECT_TRUE(is<Failure>(mech_->step(kClientFinal)));
}

TEST_F(ScramServerTest, CallsOutOfSequenceFail) {
  EXPECT_TRUE(is<Failure>(mech_->provide_secret(std::nullopt)));  // before start
  EXPECT_TRUE(mech_->finished());
  EXPECT_TRUE(is<Failure>(mech_->start(kClientFirst)));  // and the exchange is over

  auto m = make_server_mechanism("SCRAM-SHA-256", crypto_);
  ASSERT_TRUE(is<LookupSecret>(m->start(kClientFirst)));
  EXPECT_TRUE(is<Failure>(m->credentials_checked(true)));  // SCRAM never asks for that
  EXPECT_TRUE(is<Failure>(m->provide_secret(secret_for(crypto_, kPassword))));

  m = make_server_mechanism("SCRAM-SHA-256", crypto_);
  ASSERT_TRUE(is<LookupSecret>(m->start(kClientFirst)));
  EXPECT_TRUE(is<Failure>(m->step(kClientFinal)));  // the secret first
}

}  // namespace
}  // namespace taube::sasl
