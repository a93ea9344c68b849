// The server mechanism factory and the sequencing rules every mechanism shares.
#include "sasl/server_mechanism.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_sasl_crypto.hpp"
#include "sasl/sasl_steps.hpp"

namespace taube::sasl {
namespace {

using testing::describe;
using testing::is;

TEST(ServerMechanismFactory, KnowsTheListedNamesCaseInsensitively) {
  test::FakeSaslCrypto crypto;
  for (std::string_view name : kServerMechanisms) {
    auto m = make_server_mechanism(name, crypto);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->name(), name);
  }
  EXPECT_NE(make_server_mechanism("plain", crypto), nullptr);
  EXPECT_NE(make_server_mechanism("Scram-Sha-256", crypto), nullptr);
  for (const char* unknown :
       {"", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "PLAIN ", "XOAUTH2", "EXTERNAL"})
    EXPECT_EQ(make_server_mechanism(unknown, crypto), nullptr) << unknown;
}

TEST(ServerMechanismSequence, StepBeforeStartFailsAndEnds) {
  test::FakeSaslCrypto crypto;
  for (std::string_view name : kServerMechanisms) {
    auto m = make_server_mechanism(name, crypto);
    EXPECT_TRUE(is<Failure>(m->step("x"))) << name;
    EXPECT_TRUE(m->finished());
    EXPECT_TRUE(is<Failure>(m->start(std::nullopt))) << name;
  }
}

TEST(ServerMechanismSequence, StartTwiceFails) {
  test::FakeSaslCrypto crypto;
  for (std::string_view name : kServerMechanisms) {
    auto m = make_server_mechanism(name, crypto);
    const ServerStep first = m->start(std::nullopt);
    EXPECT_TRUE(is<Challenge>(first)) << name << ": " << describe(first);
    EXPECT_TRUE(is<Failure>(m->start(std::nullopt))) << name;
  }
}

TEST(ServerMechanismSequence, AnswersNobodyAskedForFail) {
  test::FakeSaslCrypto crypto;
  auto plain = make_server_mechanism("PLAIN", crypto);
  ASSERT_TRUE(is<Challenge>(plain->start(std::nullopt)));
  // A password check was not requested: it must not turn into a success.
  EXPECT_TRUE(is<Failure>(plain->credentials_checked(true)));
  EXPECT_TRUE(is<Failure>(plain->step(std::string("\0a\0b", 4))));

  auto login = make_server_mechanism("LOGIN", crypto);
  ASSERT_TRUE(is<Challenge>(login->start("alice")));
  EXPECT_TRUE(is<Failure>(login->provide_secret(std::nullopt)));
  EXPECT_TRUE(login->finished());
}

TEST(ServerMechanismSequence, NothingAfterSuccess) {
  test::FakeSaslCrypto crypto;
  auto m = make_server_mechanism("PLAIN", crypto);
  ASSERT_TRUE(is<VerifyPassword>(m->start(std::string("\0alice\0pw", 9))));
  ASSERT_TRUE(is<Success>(m->credentials_checked(true)));
  EXPECT_TRUE(m->finished());
  EXPECT_TRUE(is<Failure>(m->credentials_checked(true)));
  EXPECT_TRUE(is<Failure>(m->step("")));
}

}  // namespace
}  // namespace taube::sasl
