// The SCRAM-SHA-256 arithmetic (RFC 5802 §3, RFC 7677) shared by the server and the client
// mechanisms, over the injected Crypto. Functions that return octets return an empty string when
// the Crypto failed (see crypto.hpp); callers treat that as a failed exchange.
#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "sasl/crypto.hpp"
#include "sasl/scram_secret.hpp"

namespace taube::sasl {

// ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
// ServerKey = HMAC(SaltedPassword, "Server Key").
struct ScramKeys {
  std::string client_key;
  std::string stored_key;
  std::string server_key;
};
// Fails (with a reason) when SaltedPassword is not 32 octets or the Crypto failed.
tl::expected<ScramKeys, std::string> scram_keys(const Crypto& crypto,
                                                std::string_view salted_password);

// The secret a server stores, from SaltedPassword = Hi(Normalize(password), salt, i).
tl::expected<ScramSecret, std::string> scram_secret_from_salted_password(
    const Crypto& crypto, std::string_view salted_password, std::string salt, int iterations);

// AuthMessage = client-first-message-bare + "," + server-first-message + "," +
//               client-final-message-without-proof
std::string scram_auth_message(std::string_view client_first_bare, std::string_view server_first,
                               std::string_view client_final_without_proof);

// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage).
std::string scram_client_proof(const Crypto& crypto, const ScramKeys& keys,
                               std::string_view auth_message);
// The server's check: H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey, compared in
// constant time. False for a proof that is not 32 octets and whenever the Crypto failed.
bool scram_verify_proof(const Crypto& crypto, const ScramSecret& secret,
                        std::string_view auth_message, std::string_view client_proof);
// ServerSignature = HMAC(ServerKey, AuthMessage).
std::string scram_server_signature(const Crypto& crypto, std::string_view server_key,
                                   std::string_view auth_message);

// RFC 5802 §7: a nonce is printable ASCII except ',' (%x21-2B / %x2D-7E), 93 characters.
inline constexpr std::string_view kScramNonceAlphabet =
    "!\"#$%&'()*+-./"
    "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
static_assert(kScramNonceAlphabet.size() == 93);
// A nonce of `length` characters: random octet b becomes kScramNonceAlphabet[b % 93]. (The
// modulo makes some characters 3/256 likely instead of 2/256: over 6.4 bits per character,
// plenty for a value that only has to be unpredictable and never repeat.) Empty when the
// Crypto's generator failed.
std::string scram_nonce(Crypto& crypto, std::size_t length);
// The nonce lengths Taube uses: at least 128 bits each (6.4 bits per character). They are the
// lengths of RFC 7677 §3's example, so that the tests reproduce it exactly.
inline constexpr std::size_t kScramClientNonceLength = 20;
inline constexpr std::size_t kScramServerNonceLength = 30;

}  // namespace taube::sasl
