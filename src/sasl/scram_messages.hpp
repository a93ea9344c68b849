// SCRAM (RFC 5802 §7) messages, parsed and formatted without any cryptography: the client's
// messages for the server mechanism, the server's for the client mechanism.
#pragma once

#include <tl/expected.hpp>

#include <string>
#include <string_view>

namespace taube::sasl {

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

struct ScramServerFirst {
  std::string nonce;  // client nonce + server nonce
  std::string salt;   // decoded
  int iterations = 0;
};
struct ScramServerFinal {
  std::string verifier;  // the decoded "v=" ServerSignature; empty when the server sent "e="
  std::string error;     // the "e=" server-error-value; empty when the server sent "v="
};
// Syntax only (the client mechanism checks the nonce prefix and the iteration range). A
// mandatory extension ("m=") is refused (RFC 5802 §5.1).
tl::expected<ScramServerFirst, std::string> parse_scram_server_first(std::string_view msg);
tl::expected<ScramServerFinal, std::string> parse_scram_server_final(std::string_view msg);

// RFC 5802 §7 saslname: ',' -> "=2C", '=' -> "=3D".
std::string encode_saslname(std::string_view name);

}  // namespace taube::sasl
