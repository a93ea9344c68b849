// sasl::ClientCrypto on OpenSSL: what the SASL mechanisms are given in the real server and
// client. Stateless; one process-wide instance is enough. A failing primitive returns an empty
// string, which the mechanisms treat as a failed exchange (sasl/crypto.hpp).
#pragma once

#include "sasl/crypto.hpp"

namespace taube::crypto {

class OpenSslSasl final : public sasl::ClientCrypto {
 public:
  std::string sha256(std::string_view data) const override;
  std::string hmac_sha256(std::string_view key, std::string_view data) const override;
  std::string random_octets(std::size_t n) override;
  std::string pbkdf2_sha256(std::string_view password, std::string_view salt,
                            int iterations) const override;
};

}  // namespace taube::crypto
