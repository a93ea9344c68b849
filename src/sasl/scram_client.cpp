// SCRAM-SHA-256, client side (RFC 5802 §5, RFC 7677), without channel binding ("n,,"):
//
//   initial response  client-first  "n,,n=user,r=<client nonce>"
//   server-first   -> client-final  "c=biws,r=<combined nonce>,p=<ClientProof>"
//   server-final   -> ""            after checking "v=<ServerSignature>" (SMTP carries the
//                                   server-final message in a 334 challenge)
#include <string>

#include "sasl/mechanisms.hpp"
#include "sasl/octets.hpp"
#include "sasl/scram_crypto.hpp"
#include "sasl/scram_messages.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::sasl::detail {

namespace {

class ScramClient final : public ClientMechanism {
 public:
  ScramClient(ClientCredentials c, ClientCrypto& crypto) : creds_(std::move(c)), crypto_(crypto) {}
  ~ScramClient() override {
    wipe(creds_.password);
    wipe(server_signature_);
  }
  std::string_view name() const override { return "SCRAM-SHA-256"; }

  tl::expected<std::optional<std::string>, std::string> initial_response() override {
    auto m = client_first();
    if (!m) return tl::unexpected(m.error());
    return std::optional<std::string>(std::move(*m));
  }

  ClientStep respond(std::string_view challenge) override {
    switch (stage_) {
      case Stage::Start:
        if (!challenge.empty()) return fail("SCRAM: expected an empty first challenge");
        return client_first();
      case Stage::SentFirst:
        return client_final(challenge);
      case Stage::SentFinal: {
        auto ok = server_final(challenge);
        if (!ok) return tl::unexpected(ok.error());
        return std::string();  // SMTP: the empty response that lets the server send 235
      }
      case Stage::Verified:
      case Stage::Failed:
        break;
    }
    return fail("SCRAM: unexpected challenge");
  }

  tl::expected<void, std::string> succeeded(std::optional<std::string_view> data) override {
    // Protocols with additional data with success deliver server-final here.
    if (data && stage_ == Stage::SentFinal) {
      auto ok = server_final(*data);
      if (!ok) return ok;
    }
    if (stage_ != Stage::Verified)
      return tl::unexpected(
          std::string("SCRAM: the server did not prove that it knows the secret"));
    return {};
  }

 private:
  enum class Stage { Start, SentFirst, SentFinal, Verified, Failed };

  ClientStep fail(std::string reason) {
    stage_ = Stage::Failed;
    wipe(server_signature_);
    return tl::unexpected(std::move(reason));
  }

  ClientStep client_first() {
    if (stage_ != Stage::Start) return fail("SCRAM: client-first already sent");
    const auto has_nul = [](const std::string& f) { return f.find('\0') != std::string::npos; };
    if (creds_.username.empty() || has_nul(creds_.username) || has_nul(creds_.authzid))
      return fail("SCRAM: empty user name, or a NUL in a name");
    nonce_ = scram_nonce(crypto_, kScramClientNonceLength);
    if (nonce_.empty()) return fail("SCRAM: the random generator failed");
    // gs2-header: "n" (no channel binding), the optional authzid.
    gs2_header_ = creds_.authzid.empty() ? "n,," : "n,a=" + encode_saslname(creds_.authzid) + ",";
    bare_ = "n=" + encode_saslname(creds_.username) + ",r=" + nonce_;
    stage_ = Stage::SentFirst;
    return gs2_header_ + bare_;
  }

  ClientStep client_final(std::string_view server_first) {
    auto sf = parse_scram_server_first(server_first);
    if (!sf) return fail("SCRAM server-first: " + sf.error());
    // RFC 5802 §5.1: the combined nonce starts with the client's and adds the server's part.
    if (sf->nonce.size() <= nonce_.size() || sf->nonce.compare(0, nonce_.size(), nonce_) != 0)
      return fail("SCRAM: the server's nonce does not extend the client's");
    // RFC 7677 §4: at least 4096 iterations; fewer would make the proof cheap to attack.
    if (sf->iterations < kScramMinIterations)
      return fail("SCRAM: iteration count below " + std::to_string(kScramMinIterations));
    if (sf->iterations > kScramClientMaxIterations)
      return fail("SCRAM: iteration count above " + std::to_string(kScramClientMaxIterations));
    std::string salted = crypto_.pbkdf2_sha256(creds_.password, sf->salt, sf->iterations);
    auto keys = scram_keys(crypto_, salted);
    wipe(salted);
    if (!keys) return fail("SCRAM: " + keys.error());
    const std::string without_proof = "c=" + smtp::base64_encode(gs2_header_) + ",r=" + sf->nonce;
    const std::string auth_message = scram_auth_message(bare_, server_first, without_proof);
    const std::string proof = scram_client_proof(crypto_, *keys, auth_message);
    server_signature_ = scram_server_signature(crypto_, keys->server_key, auth_message);
    wipe(keys->client_key);
    wipe(keys->server_key);
    if (proof.empty() || server_signature_.empty()) return fail("SCRAM: HMAC failed");
    stage_ = Stage::SentFinal;
    return without_proof + ",p=" + smtp::base64_encode(proof);
  }

  tl::expected<void, std::string> server_final(std::string_view msg) {
    auto sf = parse_scram_server_final(msg);
    if (!sf) return tl::unexpected(fail("SCRAM server-final: " + sf.error()).error());
    if (!sf->error.empty()) return tl::unexpected(fail("SCRAM: server error " + sf->error).error());
    if (!constant_time_equal(sf->verifier, server_signature_))
      return tl::unexpected(fail("SCRAM: wrong server signature").error());
    stage_ = Stage::Verified;
    return {};
  }

  ClientCredentials creds_;
  ClientCrypto& crypto_;
  Stage stage_ = Stage::Start;
  std::string nonce_;
  std::string gs2_header_;
  std::string bare_;              // client-first-message-bare
  std::string server_signature_;  // expected in server-final
};

}  // namespace

std::unique_ptr<ClientMechanism> make_scram_client(ClientCredentials credentials,
                                                   ClientCrypto& crypto) {
  return std::make_unique<ScramClient>(std::move(credentials), crypto);
}

}  // namespace taube::sasl::detail
