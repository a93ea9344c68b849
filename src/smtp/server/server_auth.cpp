// ServerSession: STARTTLS (RFC 3207) and AUTH (RFC 4954; PLAIN RFC 4616; LOGIN
// draft-murchison-sasl-login; SCRAM-SHA-256 RFC 5802/7677, whose cryptography the caller does).
#include <algorithm>

#include "smtp/server/server_session.hpp"
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
  std::string mech(arg.substr(0, sp));
  for (char& c : mech)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  std::string_view initial = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
  if (mech.empty() || initial.find(' ') != std::string_view::npos) {
    reply(ReplyId::SyntaxAuth);
    return;
  }
  if (mech != "PLAIN" && mech != "LOGIN" && !(mech == "SCRAM-SHA-256" && policy_.scram)) {
    reply(ReplyId::AuthUnknownMechanism);
    return;
  }
  auth_ = AuthRequest{};
  auth_.mechanism = mech;
  auth_stage_ = 0;
  if (initial.empty()) {
    state_ = State::AuthResponse;
    // PLAIN and SCRAM: an empty challenge; LOGIN: "Username:".
    reply(ReplyId::AuthChallenge, mech == "LOGIN" ? base64_encode("Username:") : "");
    return;
  }
  if (initial == "=") {  // RFC 4954 §4: "=" is an empty initial response
    auth_step("");
    return;
  }
  auto decoded = base64_decode(initial);
  if (!decoded) {
    reply(ReplyId::AuthBadBase64);
    return;
  }
  auth_step(*decoded);
}

void ServerSession::on_auth_response(std::string_view line) {
  state_ = idle_state();
  if (line == "*") {
    reply(ReplyId::AuthCancelled);  // RFC 4954 §4: the client cancelled
    return;
  }
  auto decoded = base64_decode(line);
  if (!decoded) {
    reply(ReplyId::AuthBadBase64);
    return;
  }
  auth_step(*decoded);
}

void ServerSession::auth_step(std::string_view decoded) {
  if (auth_.mechanism == "SCRAM-SHA-256") {
    scram_step(decoded);
    return;
  }
  if (auth_.mechanism == "PLAIN") {
    // RFC 4616 §2: [authzid] NUL authcid NUL passwd
    const auto a = decoded.find('\0');
    const auto b = a == std::string_view::npos ? a : decoded.find('\0', a + 1);
    if (b == std::string_view::npos || decoded.find('\0', b + 1) != std::string_view::npos ||
        b == a + 1) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.authzid.assign(decoded.substr(0, a));
    // RFC 4616 §2: acting as another identity needs authorisation Taube does not grant.
    if (!auth_.authzid.empty() && auth_.authzid != decoded.substr(a + 1, b - a - 1)) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.username.assign(decoded.substr(a + 1, b - a - 1));
    auth_.password.assign(decoded.substr(b + 1));
    pending_ = Pending::Auth;
    return;
  }
  // LOGIN: user name, then password, each in its own response.
  if (auth_stage_ == 0) {
    auth_.username.assign(decoded);
    auth_stage_ = 1;
    state_ = State::AuthResponse;
    reply(ReplyId::AuthChallenge, base64_encode("Password:"));
    return;
  }
  auth_.password.assign(decoded);
  pending_ = Pending::Auth;
}

// RFC 5802 §5 message flow; the I/O layer does the cryptography between the steps.
void ServerSession::scram_step(std::string_view decoded) {
  if (auth_stage_ == 0) {
    auto first = parse_scram_client_first(decoded);
    // RFC 5802 §5.1: acting as another identity (a=) needs authorisation Taube does not grant.
    if (!first || (!first->authzid.empty() && first->authzid != first->username)) {
      reply(ReplyId::AuthFailed);
      return;
    }
    auth_.username = first->username;
    auth_.scram_first = std::move(*first);
    auth_.step = 0;
    pending_ = Pending::Auth;
    return;
  }
  if (auth_stage_ == 1) {
    auth_.sasl_message.assign(decoded);
    auth_.step = 1;
    pending_ = Pending::Auth;
    return;
  }
  // Stage 2: the server's signature was sent; the client answers with an empty response.
  if (!decoded.empty()) {
    reply(ReplyId::AuthFailed);
    return;
  }
  client_.auth_user = auth_.username;
  reply(ReplyId::AuthOk);
}

void ServerSession::auth_challenge(std::string_view data) {
  auth_continue(1, data);
}

void ServerSession::auth_verified(std::string_view data) {
  auth_continue(2, data);
}

// Answers the pending AUTH with a 334 challenge and moves the SASL exchange to `stage`.
void ServerSession::auth_continue(int stage, std::string_view data) {
  if (pending_ != Pending::Auth) return;
  pending_ = Pending::None;
  auth_stage_ = stage;
  state_ = State::AuthResponse;
  reply(ReplyId::AuthChallenge, base64_encode(data));
}

void ServerSession::auth_done(bool ok, ReplyId failure) {
  if (pending_ != Pending::Auth) return;
  pending_ = Pending::None;
  if (ok) {
    client_.auth_user = auth_.username;
    reply(ReplyId::AuthOk);
  } else {
    reply(failure);
  }
  forget_password();
}

void ServerSession::forget_password() {
  // Credentials do not linger in memory longer than needed.
  std::fill(auth_.password.begin(), auth_.password.end(), '\0');
  auth_.password.clear();
}

}  // namespace taube::smtp
