// ClientSession: AUTH (RFC 4954) with the sasl:: client mechanisms: the choice of mechanism, the
// initial response, the 334 challenges, cancellation ("*") and success (235).
#include <string>
#include <utility>

#include "sasl/octets.hpp"
#include "smtp/client/client_session.hpp"
#include "smtp/wire/base64.hpp"
#include "smtp/wire/command_format.hpp"

namespace taube::smtp::client {

namespace {

// Stands in for a missing sasl_crypto: PLAIN and LOGIN never call it, SCRAM is not chosen
// without a real one (and would fail on the empty results, sasl/crypto.hpp).
struct NullCrypto final : sasl::ClientCrypto {
  std::string sha256(std::string_view) const override { return {}; }
  std::string hmac_sha256(std::string_view, std::string_view) const override { return {}; }
  std::string random_octets(std::size_t) override { return {}; }
  std::string pbkdf2_sha256(std::string_view, std::string_view, int) const override { return {}; }
};

}  // namespace

void ClientSession::start_auth() {
  if (!tls_active_ && !config_.plaintext_auth) {
    fail(Outcome::Deferred, "AUTH without TLS is not allowed (plaintext_auth off)", "4.7.10",
         "auth", true);
    return;
  }
  const std::vector<std::string> offered = extensions_.auth_mechanisms();
  std::string_view chosen;
  for (const std::string_view name : sasl::kClientMechanisms) {
    if (name == "SCRAM-SHA-256" && config_.sasl_crypto == nullptr) continue;
    for (const std::string& o : offered)
      if (o == name) chosen = name;
    if (!chosen.empty()) break;
  }
  if (chosen.empty()) {
    fail(Outcome::Deferred,
         offered.empty() ? "AUTH not offered by the peer"
                         : "AUTH offered without a usable mechanism",
         "4.7.0", "auth", true);
    return;
  }
  static NullCrypto null_crypto;
  sasl::ClientCrypto& crypto = config_.sasl_crypto ? *config_.sasl_crypto : null_crypto;
  mech_ = sasl::make_client_mechanism(chosen, *config_.credentials, crypto);
  auto initial = mech_->initial_response();
  if (!initial) {
    fail(Outcome::Deferred, "SASL " + std::string(chosen) + ": " + initial.error(), "4.7.0", "auth",
         true);
    return;
  }
  state_ = State::Auth;
  const std::string logged_plain = "AUTH " + std::string(chosen);
  if (!initial->has_value()) {
    command(*format_auth(chosen), Expect::Auth, 0, logged_plain);
    return;
  }
  // RFC 4954 §4: the initial response goes with the command, "=" when empty, unless the line
  // would be too long: then after the server's empty 334.
  std::string b64 = (*initial)->empty() ? std::string("=") : base64_encode(**initial);
  sasl::wipe(**initial);
  auto line = format_auth(chosen, b64);
  if (line) {
    command(std::move(*line), Expect::Auth, 0, logged_plain + " ****");
  } else {
    auth_pending_initial_ = b64 == "=" ? std::string() : std::move(b64);
    command(*format_auth(chosen), Expect::Auth, 0, logged_plain);
  }
  sasl::wipe(b64);
}

void ClientSession::auth_abort(std::string reason) {
  // RFC 4954 §4: "*" cancels the exchange; the server answers 501, then the session fails.
  auth_abort_ = std::move(reason);
  command("*\r\n", Expect::Auth);
}

void ClientSession::on_auth(const ParsedReply& r) {
  if (auth_abort_) {
    fail(Outcome::Deferred, "SASL: " + *auth_abort_, "4.7.0", "auth", true);
    return;
  }
  if (r.reply.code == 334) {
    std::string response;
    if (auth_pending_initial_) {
      response = std::move(*auth_pending_initial_);
      auth_pending_initial_.reset();
    } else {
      const auto challenge = base64_decode(r.reply.text);
      if (!challenge) {
        auth_abort("the server's challenge is not base64");
        return;
      }
      auto step = mech_->respond(*challenge);
      if (!step) {
        auth_abort(step.error());
        return;
      }
      response = base64_encode(*step);
      sasl::wipe(*step);
    }
    auto line = format_auth_response(response);
    sasl::wipe(response);
    if (!line) {
      auth_abort("response cannot be sent");
      return;
    }
    command(std::move(*line), Expect::Auth, 0, "****");
    return;
  }
  if (r.reply.code == 235) {
    // SCRAM: succeeded() fails unless the server proved that it knows the secret (RFC 5802 §5).
    auto ok = mech_->succeeded(std::nullopt);
    mech_.reset();
    if (!ok) {
      fail(Outcome::Deferred, "SASL: " + ok.error(), "4.7.0", "auth", true);
      return;
    }
    authenticated_ = true;
    become_ready();
    return;
  }
  mech_.reset();
  fail_reply(r, "auth", true);
}

}  // namespace taube::smtp::client
