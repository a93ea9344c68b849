// ServerSession: STARTTLS (RFC 3207) and AUTH (RFC 4954; PLAIN RFC 4616; LOGIN
// draft-murchison-sasl-login; SCRAM-SHA-256 RFC 5802/7677). The mechanisms are sasl::'s; the
// session keeps the exchange: base64, "*", the 334/235/5xx replies, the pauses.
#include <algorithm>
#include <variant>

#include "smtp/server/server_session.hpp"
#include "smtp/wire/ascii.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::smtp {

// ---- STARTTLS (RFC 3207) ----
void ServerSession::on_starttls(const Command& cmd) {
  if (client_.tls) {
    reply(ReplyId::TlsAlreadyActive);
    return;
  }
  if (!policy_.starttls) {
    reply(ReplyId::NotImplemented);
    return;
  }
  if (!cmd.argument.empty()) {
    reply(ReplyId::SyntaxNoArgs, "STARTTLS");  // RFC 3207 §4: no parameters
    return;
  }
  reset_transaction();
  reply(ReplyId::StartTlsReady);
  state_ = State::TlsPending;
  line_.clear();
  line_overflow_ = false;
  push(Event{EventKind::StartTls, {}, Verb::Invalid, {}, {}, 0, 0, nullptr});
}

void ServerSession::tls_started(std::string tls_info) {
  if (state_ != State::TlsPending) return;
  // RFC 3207 §4.2: discard any knowledge obtained from the client before TLS.
  client_.tls = true;
  client_.tls_info = std::move(tls_info);
  client_.helo.clear();
  client_.esmtp = false;
  client_.auth_user.clear();
  reset_transaction();
  line_.clear();
  line_overflow_ = false;
  state_ = State::Connected;
}

namespace {

// Stands in where the server gave no crypto: PLAIN and LOGIN need none, SCRAM fails (every
// primitive returns the wrong length, so a proof can never verify).
struct NoCrypto final : sasl::Crypto {
  std::string sha256(std::string_view) const override { return {}; }
  std::string hmac_sha256(std::string_view, std::string_view) const override { return {}; }
  std::string random_octets(std::size_t) override { return {}; }
};

}  // namespace

void ServerSession::on_auth(const Command& cmd) {
  if (!policy_.auth) {
    reply(ReplyId::NotImplemented);
    return;
  }
  if (!client_.tls && !policy_.plaintext_auth) {
    reply(ReplyId::AuthNeedsTls);  // RFC 4954 §4: 538 when the mechanism needs encryption
    return;
  }
  if (client_.helo.empty() || !client_.esmtp) {
    reply(ReplyId::NeedHelo);  // AUTH is an ESMTP extension: EHLO first
    return;
  }
  if (!client_.auth_user.empty()) {
    reply(ReplyId::AuthAlready);  // RFC 4954 §4: no AUTH after a successful AUTH
    return;
  }
  if (tx_) {
    reply(ReplyId::AuthInTransaction);  // RFC 4954 §4: not during a mail transaction
    return;
  }
  std::string_view arg = cmd.argument;
  const auto sp = arg.find(' ');
  const std::string mech = ascii_upper(arg.substr(0, sp));
  std::string_view initial = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
  if (mech.empty() || initial.find(' ') != std::string_view::npos) {
    reply(ReplyId::SyntaxAuth);
    return;
  }
  if (mech == "SCRAM-SHA-256" && !policy_.scram) {
    reply(ReplyId::AuthUnknownMechanism);  // offered only when some user has a SCRAM secret
    return;
  }
  static NoCrypto no_crypto;
  sasl::Crypto& crypto = cfg_.sasl_crypto != nullptr ? *cfg_.sasl_crypto : no_crypto;
  mech_ = sasl::make_server_mechanism(mech, crypto, cfg_.sasl_stand_in_key);
  if (!mech_) {
    reply(ReplyId::AuthUnknownMechanism);
    return;
  }
  auth_ = AuthRequest{};
  auth_.mechanism = std::string(mech_->name());
  success_sent_ = false;
  if (initial.empty()) {
    auth_next(mech_->start(std::nullopt));
    return;
  }
  if (initial == "=") {  // RFC 4954 §4: "=" is an empty initial response
    auth_next(mech_->start(""));
    return;
  }
  auto decoded = base64_decode(initial);
  if (!decoded) {
    end_auth();
    reply(ReplyId::AuthBadBase64);
    return;
  }
  auth_next(mech_->start(*decoded));
}

void ServerSession::on_auth_response(std::string_view line) {
  state_ = idle_state();
  if (line == "*") {
    end_auth();
    reply(ReplyId::AuthCancelled);  // RFC 4954 §4: the client cancelled
    return;
  }
  auto decoded = base64_decode(line);
  if (!decoded) {
    end_auth();
    reply(ReplyId::AuthBadBase64);
    return;
  }
  if (success_sent_) {
    // The answer to SCRAM's server-final message must be empty (RFC 4954 §4).
    success_sent_ = false;
    if (decoded->empty()) {
      auth_next(sasl::Success{});
    } else {
      auth_next(sasl::Failure{"non-empty response after the server's final message"});
    }
    return;
  }
  auth_next(mech_->step(*decoded));
}

// Acts on what the mechanism asks for next.
void ServerSession::auth_next(sasl::ServerStep step) {
  if (auto* c = std::get_if<sasl::Challenge>(&step)) {
    state_ = State::AuthResponse;
    reply(ReplyId::AuthChallenge, base64_encode(c->data));
  } else if (auto* v = std::get_if<sasl::VerifyPassword>(&step)) {
    auth_.need = AuthRequest::Need::VerifyPassword;
    auth_.username = std::move(v->username);
    auth_.password = std::move(v->password);
    pending_ = Pending::Auth;
  } else if (auto* l = std::get_if<sasl::LookupSecret>(&step)) {
    auth_.need = AuthRequest::Need::LookupSecret;
    auth_.username = std::move(l->username);
    pending_ = Pending::Auth;
  } else if (auto* ok = std::get_if<sasl::Success>(&step)) {
    if (ok->data) {
      // Additional data with success goes out as one more challenge (RFC 4954 §4).
      success_sent_ = true;
      state_ = State::AuthResponse;
      reply(ReplyId::AuthChallenge, base64_encode(*ok->data));
      return;
    }
    client_.auth_user = mech_ ? mech_->username() : auth_.username;
    auth_.username = client_.auth_user;
    end_auth();
    reply(ReplyId::AuthOk);
    push(Event{EventKind::Authenticated, {}, Verb::Auth, {}, {}, 0, 0, nullptr});
  } else {
    auto& f = std::get<sasl::Failure>(step);
    auth_.need = AuthRequest::Need::Failed;
    auth_.reason = std::move(f.reason);
    if (mech_ && auth_.username.empty()) auth_.username = mech_->username();
    pending_ = Pending::Auth;
  }
}

void ServerSession::auth_checked(bool ok) {
  if (pending_ != Pending::Auth || auth_.need != AuthRequest::Need::VerifyPassword) return;
  pending_ = Pending::None;
  forget_password();
  auth_next(mech_->credentials_checked(ok));
}

void ServerSession::auth_secret(std::optional<sasl::ScramSecret> secret) {
  if (pending_ != Pending::Auth || auth_.need != AuthRequest::Need::LookupSecret) return;
  pending_ = Pending::None;
  auth_next(mech_->provide_secret(std::move(secret)));
}

void ServerSession::auth_failed(ReplyId id) {
  if (pending_ != Pending::Auth) return;
  pending_ = Pending::None;
  end_auth();
  reply(id);
}

void ServerSession::end_auth() {
  mech_.reset();
  success_sent_ = false;
  forget_password();
}

void ServerSession::forget_password() {
  // Credentials do not linger in memory longer than needed.
  std::fill(auth_.password.begin(), auth_.password.end(), '\0');
  auth_.password.clear();
}

}  // namespace taube::smtp
