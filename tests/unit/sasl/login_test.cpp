// LOGIN (draft-murchison-sasl-login), server and client.
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

TEST(LoginServer, UserNameThenPassword) {
  test::FakeSaslCrypto crypto;
  auto m = make_server_mechanism("LOGIN", crypto);
  EXPECT_EQ(m->name(), "LOGIN");
  ServerStep s = m->start(std::nullopt);
  ASSERT_TRUE(is<Challenge>(s)) << describe(s);
  EXPECT_EQ(std::get<Challenge>(s).data, "Username:");
  s = m->step("alice");
  ASSERT_TRUE(is<Challenge>(s)) << describe(s);
  EXPECT_EQ(std::get<Challenge>(s).data, "Password:");
  EXPECT_EQ(m->username(), "alice");
  s = m->step("s3cret");
  ASSERT_TRUE(is<VerifyPassword>(s)) << describe(s);
  EXPECT_EQ(std::get<VerifyPassword>(s).username, "alice");
  EXPECT_EQ(std::get<VerifyPassword>(s).password, "s3cret");
  s = m->credentials_checked(true);
  ASSERT_TRUE(is<Success>(s)) << describe(s);
  EXPECT_FALSE(std::get<Success>(s).data);
}

TEST(LoginServer, UserNameAsInitialResponse) {
  test::FakeSaslCrypto crypto;
  auto m = make_server_mechanism("LOGIN", crypto);
  ServerStep s = m->start("alice");
  ASSERT_TRUE(is<Challenge>(s)) << describe(s);
  EXPECT_EQ(std::get<Challenge>(s).data, "Password:");
  ASSERT_TRUE(is<VerifyPassword>(m->step("s3cret")));
  EXPECT_TRUE(is<Failure>(m->credentials_checked(false)));
}

TEST(LoginServer, EmptyOrNulFieldsFail) {
  test::FakeSaslCrypto crypto;
  EXPECT_TRUE(is<Failure>(make_server_mechanism("LOGIN", crypto)->start("")));
  EXPECT_TRUE(is<Failure>(make_server_mechanism("LOGIN", crypto)->start(std::string("a\0b", 3))));
  auto m = make_server_mechanism("LOGIN", crypto);
  m->start(std::nullopt);
  EXPECT_TRUE(is<Failure>(m->step("")));
  m = make_server_mechanism("LOGIN", crypto);
  m->start("alice");
  EXPECT_TRUE(is<Failure>(m->step("")));
  m = make_server_mechanism("LOGIN", crypto);
  m->start("alice");
  // crypt(3) would stop at the NUL and check "s3" instead.
  EXPECT_TRUE(is<Failure>(m->step(std::string("s3\0cret", 7))));
}

TEST(LoginClient, AnswersTwoChallengesInOrder) {
  test::FakeSaslCrypto crypto;
  auto c = make_client_mechanism("LOGIN", {"", "alice", "s3cret"}, crypto);
  ASSERT_NE(c, nullptr);
  auto ir = c->initial_response();
  ASSERT_TRUE(ir);
  EXPECT_FALSE(*ir);  // LOGIN has none
  EXPECT_FALSE(c->succeeded(std::nullopt));
  // The challenge texts are ignored: servers word them differently.
  EXPECT_EQ(*c->respond("User Name"), "alice");
  EXPECT_FALSE(c->succeeded(std::nullopt));
  EXPECT_EQ(*c->respond("Password:"), "s3cret");
  EXPECT_FALSE(c->respond("Again:"));
  EXPECT_TRUE(c->succeeded(std::nullopt));
}

TEST(LoginClient, CannotCarryAnotherAuthzidOrEmptyFields) {
  test::FakeSaslCrypto crypto;
  EXPECT_FALSE(make_client_mechanism("LOGIN", {"bob", "alice", "s3cret"}, crypto)->respond("U"));
  EXPECT_TRUE(make_client_mechanism("LOGIN", {"alice", "alice", "s3cret"}, crypto)->respond("U"));
  EXPECT_FALSE(make_client_mechanism("LOGIN", {"", "", "s3cret"}, crypto)->respond("U"));
  auto c = make_client_mechanism("LOGIN", {"", "alice", ""}, crypto);
  EXPECT_TRUE(c->respond("U"));
  EXPECT_FALSE(c->respond("P"));
}

}  // namespace
}  // namespace taube::sasl
