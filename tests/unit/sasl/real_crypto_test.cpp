// The mechanisms on the real OpenSSL primitives (crypto::OpenSslSasl), and the tests' reference
// implementation checked against them.
#include <gtest/gtest.h>

#include <string>

#include "crypto/openssl_sasl.hpp"
#include "fake_sasl_crypto.hpp"
#include "sasl/client_mechanism.hpp"
#include "sasl/sasl_steps.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/server_mechanism.hpp"

namespace taube::sasl {
namespace {

using testing::describe;
using testing::is;

TEST(RealCrypto, ReferenceImplementationAgreesWithOpenSsl) {
  crypto::OpenSslSasl real;
  std::string data;
  for (int n = 0; n < 200; ++n) {  // every padding case around the 64-octet blocks
    EXPECT_EQ(test::reference_sha256(data), real.sha256(data)) << n;
    EXPECT_EQ(test::reference_hmac_sha256(data, "msg" + data),
              real.hmac_sha256(data, "msg" + data));
    data += static_cast<char>(n * 7);
  }
  EXPECT_EQ(test::reference_pbkdf2_sha256("pencil", "salt", 4096, 32),
            real.pbkdf2_sha256("pencil", "salt", 4096));
}

TEST(RealCrypto, ScramRoundTripWithRandomNonces) {
  crypto::OpenSslSasl real;
  auto stand_in_key = real.random_octets(32);
  auto salted = real.pbkdf2_sha256("s3cret", "0123456789abcdef", 4096);
  auto secret = scram_secret_from_salted_password(real, salted, "0123456789abcdef", 4096);
  ASSERT_TRUE(secret);
  auto client = make_client_mechanism("SCRAM-SHA-256", {"", "alice", "s3cret"}, real);
  auto server = make_server_mechanism("SCRAM-SHA-256", real, stand_in_key);
  const std::string first = **client->initial_response();
  ASSERT_TRUE(is<LookupSecret>(server->start(first)));
  const ServerStep sf = server->provide_secret(*secret);
  ASSERT_TRUE(is<Challenge>(sf)) << describe(sf);
  auto fin = client->respond(std::get<Challenge>(sf).data);
  ASSERT_TRUE(fin) << fin.error();
  const ServerStep ok = server->step(*fin);
  ASSERT_TRUE(is<Success>(ok)) << describe(ok);
  ASSERT_TRUE(client->respond(*std::get<Success>(ok).data));
  EXPECT_TRUE(client->succeeded(std::nullopt));
}

}  // namespace
}  // namespace taube::sasl
