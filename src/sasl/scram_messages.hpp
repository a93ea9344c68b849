// SCRAM (RFC 5802 §7) client messages, parsed without any cryptography: the session checks the
// client-first message and hands the parts to the I/O layer, which holds the secrets.
#pragma once

#include <tl/expected.hpp>

#include <string>
#include <string_view>

namespace taube::smtp {

struct ScramClientFirst {
  std::string gs2_header;  // "n,," / "y,," / "n,a=authzid,", echoed in the final "c="
  std::string authzid;     // empty when absent
  std::string username;    // saslname decoded ("=2C" -> ',', "=3D" -> '=')
  std::string nonce;       // the client's nonce
  std::string bare;        // client-first-message-bare, part of the AuthMessage
};

struct ScramClientFinal {
  std::string channel_binding;  // the "c=" value, base64 text as sent
  std::string nonce;            // client nonce + server nonce
  std::string proof;            // the "p=" value, base64 text as sent
  std::string without_proof;    // client-final-message-without-proof, part of the AuthMessage
};

// Errors are short reasons for the log. Channel binding ("p=") is refused: Taube offers
// SCRAM-SHA-256 without -PLUS. Mandatory extensions ("m=") are refused (RFC 5802 §5.1).
tl::expected<ScramClientFirst, std::string> parse_scram_client_first(std::string_view msg);
tl::expected<ScramClientFinal, std::string> parse_scram_client_final(std::string_view msg);

}  // namespace taube::smtp
