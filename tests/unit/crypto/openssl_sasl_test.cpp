#include "crypto/openssl_sasl.hpp"

#include <gtest/gtest.h>

#include "crypto/crypto.hpp"

namespace taube::crypto {
namespace {

TEST(OpenSslSasl, ForwardsToThePrimitives) {
  OpenSslSasl c;
  const sasl::ClientCrypto& iface = c;
  EXPECT_EQ(iface.sha256("abc"), *sha256("abc"));
  EXPECT_EQ(iface.hmac_sha256("Jefe", "what do ya want for nothing?"),
            *hmac_sha256("Jefe", "what do ya want for nothing?"));
  EXPECT_EQ(iface.pbkdf2_sha256("password", "salt", 2), *pbkdf2_sha256("password", "salt", 2, 32));
  EXPECT_EQ(c.random_octets(18).size(), 18u);
}

TEST(OpenSslSasl, AFailureIsAnEmptyString) {
  // sasl/crypto.hpp: failures are reported as empty results, which the mechanisms refuse.
  OpenSslSasl c;
  EXPECT_EQ(c.pbkdf2_sha256("password", "salt", 0), "");
}

}  // namespace
}  // namespace taube::crypto
