// SCRAM-SHA-256, server side (RFC 5802 §5, RFC 7677), without channel binding: Taube offers
// SCRAM-SHA-256, never SCRAM-SHA-256-PLUS.
//
//   client-first  -> LookupSecret            (the caller fetches the user's secret)
//   secret        -> Challenge server-first  (r=client+server nonce, s=salt, i=iterations)
//   client-final  -> Success "v=ServerSignature" when the proof is right, else Failure
#include <string>

#include "sasl/mechanisms.hpp"
#include "sasl/octets.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/scram_messages.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::sasl::detail {

namespace {

class ScramServer final : public ServerMechanism {
 public:
  ScramServer(Crypto& crypto, std::string_view stand_in_key)
      : crypto_(crypto), stand_in_key_(stand_in_key) {}
  ~ScramServer() override {
    wipe(secret_.stored_key);
    wipe(secret_.server_key);
  }
  std::string_view name() const override { return "SCRAM-SHA-256"; }

 private:
  ServerStep on_start(std::optional<std::string_view> initial) override {
    // RFC 4422 §3.3: a client-first mechanism without an initial response gets an empty
    // challenge.
    if (!initial) return Challenge{};
    return client_first(*initial);
  }
  ServerStep on_step(std::string_view response) override {
    return server_first_.empty() ? client_first(response) : client_final(response);
  }

  ServerStep client_first(std::string_view msg) {
    auto first = parse_scram_client_first(msg);
    if (!first) return Failure{"SCRAM client-first: " + first.error()};
    username_ = first->username;
    // RFC 5802 §5.1 "a=": acting as another identity needs an authorisation Taube never grants.
    if (!first->authzid.empty() && first->authzid != first->username)
      return Failure{"SCRAM: authorization identity differs from the user"};
    // "y" (the client could bind but believes the server cannot) is right: Taube does not offer
    // -PLUS (RFC 5802 §6). "p=" was refused by the parser.
    first_ = std::move(*first);
    return LookupSecret{username_};
  }

  ServerStep on_provide_secret(std::optional<ScramSecret> secret) override {
    // The nonce first, so that the random octets drawn for it do not depend on whether the
    // user exists.
    const std::string server_nonce = scram_nonce(crypto_, kScramServerNonceLength);
    if (server_nonce.empty()) return Failure{"SCRAM: the random generator failed"};
    if (secret) {
      if (!is_valid(*secret)) return Failure{"SCRAM: the stored secret is invalid"};
      secret_ = std::move(*secret);
      known_user_ = true;
    } else {
      secret_ = stand_in();
    }
    nonce_ = first_.nonce + server_nonce;
    server_first_ = "r=" + nonce_ + ",s=" + smtp::base64_encode(secret_.salt) +
                    ",i=" + std::to_string(secret_.iterations);
    return Challenge{server_first_};
  }

  // RFC 5802 §5.1: for an unknown user, go on as if it existed: a salt that is the same every
  // time this name is tried (HMAC of the name under the per-process key), the default
  // iteration count, and random keys nobody can match. known_user_ stays false, so the proof
  // fails even if it matched.
  ScramSecret stand_in() {
    ScramSecret s;
    s.iterations = kScramIterations;
    s.salt = crypto_.hmac_sha256(stand_in_key_, username_).substr(0, kScramSaltLength);
    if (s.salt.size() != kScramSaltLength) s.salt = crypto_.random_octets(kScramSaltLength);
    s.stored_key = crypto_.random_octets(kScramKeyLength);
    s.server_key = crypto_.random_octets(kScramKeyLength);
    return s;
  }

  ServerStep client_final(std::string_view msg) {
    auto fin = parse_scram_client_final(msg);
    if (!fin) return Failure{"SCRAM client-final: " + fin.error()};
    // RFC 5802 §5.1 "c=": base64 of the GS2 header followed by no channel-binding data.
    if (fin->channel_binding != smtp::base64_encode(first_.gs2_header))
      return Failure{"SCRAM: channel binding does not match the GS2 header"};
    // "r=": exactly the combined nonce of server-first.
    if (fin->nonce != nonce_) return Failure{"SCRAM: wrong nonce"};
    const auto proof = smtp::base64_decode(fin->proof);  // the parser checked it
    const std::string auth_message =
        scram_auth_message(first_.bare, server_first_, fin->without_proof);
    // The same work whether or not the user exists.
    const bool proof_ok = proof && scram_verify_proof(crypto_, secret_, auth_message, *proof);
    if (!known_user_) return Failure{"SCRAM: unknown user"};
    if (!proof_ok) return Failure{"SCRAM: wrong proof"};
    const std::string signature = scram_server_signature(crypto_, secret_.server_key, auth_message);
    if (signature.empty()) return Failure{"SCRAM: HMAC failed"};
    return Success{"v=" + smtp::base64_encode(signature)};
  }

  Crypto& crypto_;
  std::string stand_in_key_;
  ScramClientFirst first_;
  ScramSecret secret_;
  bool known_user_ = false;
  std::string nonce_;         // client nonce + server nonce
  std::string server_first_;  // empty until the client-first message was taken
};

}  // namespace

std::unique_ptr<ServerMechanism> make_scram_server(Crypto& crypto, std::string_view stand_in_key) {
  return std::make_unique<ScramServer>(crypto, stand_in_key);
}

}  // namespace taube::sasl::detail
