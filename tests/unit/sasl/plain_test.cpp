// PLAIN (RFC 4616), server and client.
#include <gtest/gtest.h>

#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/client_mechanism.hpp"
#include "sasl/sasl_steps.hpp"
#include "sasl/server_mechanism.hpp"

namespace taube::sasl {
namespace {

using testing::describe;
using testing::is;

std::string msg(std::string_view authzid, std::string_view user, std::string_view pass) {
  return std::string(authzid) + '\0' + std::string(user) + '\0' + std::string(pass);
}

class PlainServerTest : public ::testing::Test {
 protected:
  test::FakeSaslCrypto crypto_;
  std::unique_ptr<ServerMechanism> mech_ = make_server_mechanism("PLAIN", crypto_);
};

TEST_F(PlainServerTest, InitialResponseAsksForThePasswordCheck) {
  EXPECT_EQ(mech_->name(), "PLAIN");
  const ServerStep s = mech_->start(msg("", "alice", "s3cret"));
  ASSERT_TRUE(is<VerifyPassword>(s)) << describe(s);
  EXPECT_EQ(std::get<VerifyPassword>(s).username, "alice");
  EXPECT_EQ(std::get<VerifyPassword>(s).password, "s3cret");
  EXPECT_EQ(mech_->username(), "alice");
  const ServerStep ok = mech_->credentials_checked(true);
  ASSERT_TRUE(is<Success>(ok)) << describe(ok);
  EXPECT_FALSE(std::get<Success>(ok).data);
  EXPECT_TRUE(mech_->finished());
}

TEST_F(PlainServerTest, WithoutInitialResponseAnEmptyChallengeFirst) {
  const ServerStep c = mech_->start(std::nullopt);
  ASSERT_TRUE(is<Challenge>(c)) << describe(c);
  EXPECT_EQ(std::get<Challenge>(c).data, "");
  const ServerStep v = mech_->step(msg("", "alice", "s3cret"));
  ASSERT_TRUE(is<VerifyPassword>(v)) << describe(v);
  EXPECT_TRUE(is<Failure>(mech_->credentials_checked(false)));
  EXPECT_TRUE(mech_->finished());
}

TEST_F(PlainServerTest, AuthzidEqualToTheUserIsAccepted) {
  const ServerStep s = mech_->start(msg("alice", "alice", "s3cret"));
  ASSERT_TRUE(is<VerifyPassword>(s)) << describe(s);
  EXPECT_EQ(std::get<VerifyPassword>(s).username, "alice");
}

TEST_F(PlainServerTest, AuthzidOfAnotherIdentityIsRefused) {
  // RFC 4616 §2: acting as another identity needs an authorisation Taube never grants.
  const ServerStep s = mech_->start(msg("bob", "alice", "s3cret"));
  ASSERT_TRUE(is<Failure>(s)) << describe(s);
  EXPECT_EQ(mech_->username(), "alice");  // named in the log
  EXPECT_TRUE(mech_->finished());
}

TEST(PlainServer, MalformedMessagesFailWithoutAPasswordCheck) {
  test::FakeSaslCrypto crypto;
  for (const std::string& bad : {
           std::string(),                                 // nothing
           std::string("alice"),                          // no NUL
           std::string("alice\0s3cret", 12),              // one NUL
           msg("", "", "s3cret"),                         // empty authcid
           msg("", "alice", ""),                          // empty password (passwd = 1*SAFE)
           msg("", "alice", std::string("s3\0cret", 7)),  // a third NUL
           msg("", "alice", std::string("s3cret\0", 7)),
           std::string("\0\0", 2),
       }) {
    auto mech = make_server_mechanism("PLAIN", crypto);
    const ServerStep s = mech->start(bad);
    EXPECT_TRUE(is<Failure>(s)) << describe(s);
    EXPECT_TRUE(mech->finished());
  }
}

TEST_F(PlainServerTest, NoSecondMessage) {
  ASSERT_TRUE(is<VerifyPassword>(mech_->start(msg("", "alice", "s3cret"))));
  // A response while the check is pending is out of sequence and ends the exchange.
  EXPECT_TRUE(is<Failure>(mech_->step(msg("", "alice", "s3cret"))));
  EXPECT_TRUE(is<Failure>(mech_->credentials_checked(true)));
}

TEST(PlainClient, InitialResponseCarriesAllThree) {
  test::FakeSaslCrypto crypto;
  auto c = make_client_mechanism("plain", {"", "alice", "s3cret"}, crypto);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name(), "PLAIN");
  auto ir = c->initial_response();
  ASSERT_TRUE(ir && *ir);
  EXPECT_EQ(**ir, msg("", "alice", "s3cret"));
  EXPECT_FALSE(c->respond(""));  // already sent
  EXPECT_TRUE(c->succeeded(std::nullopt));
  auto z = make_client_mechanism("PLAIN", {"admin", "alice", "s3cret"}, crypto);
  EXPECT_EQ(**z->initial_response(), msg("admin", "alice", "s3cret"));
}

TEST(PlainClient, AnswersTheEmptyChallengeInstead) {
  test::FakeSaslCrypto crypto;
  auto c = make_client_mechanism("PLAIN", {"", "alice", "s3cret"}, crypto);
  EXPECT_FALSE(c->succeeded(std::nullopt));  // nothing sent yet
  auto r = c->respond("");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, msg("", "alice", "s3cret"));
  EXPECT_FALSE(c->succeeded(std::string_view("unexpected")));
  EXPECT_TRUE(c->succeeded(std::nullopt));
  auto other = make_client_mechanism("PLAIN", {"", "alice", "s3cret"}, crypto);
  EXPECT_FALSE(other->respond("a challenge"));
}

TEST(PlainClient, RefusesCredentialsItCannotEncode) {
  test::FakeSaslCrypto crypto;
  for (const ClientCredentials& bad : {
           ClientCredentials{"", "", "s3cret"},
           ClientCredentials{"", "alice", ""},
           ClientCredentials{"", std::string("al\0ice", 6), "s3cret"},
           ClientCredentials{"", "alice", std::string("s3\0cret", 7)},
           ClientCredentials{std::string("a\0", 2), "alice", "s3cret"},
       }) {
    auto c = make_client_mechanism("PLAIN", bad, crypto);
    EXPECT_FALSE(c->initial_response());
  }
}

}  // namespace
}  // namespace taube::sasl
