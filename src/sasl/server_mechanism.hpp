// The server side of the SASL mechanisms (RFC 4422): PLAIN (RFC 4616), LOGIN
// (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC 7677), as steps.
//
// A mechanism sees only decoded octets: the protocol (SMTP AUTH, RFC 4954) decodes the client's
// base64 responses, encodes the challenges, handles "*" (cancel) and maps the outcome to its
// replies. Every call returns the next ServerStep:
//
//   Challenge       send `data` to the client, then pass its decoded answer to step();
//   VerifyPassword  (PLAIN, LOGIN) check the user name and password (crypt(3) is slow: on a worker
//                   thread), then report the result with credentials_checked();
//   LookupSecret    (SCRAM) look the user's SCRAM secret up, then provide_secret() it, or nullopt
//                   for an unknown user (or one without a secret);
//   Success         authenticated as username(); `data` is additional data with success;
//   Failure         the exchange is over; `reason` is for the log only.
//
// Success and Failure end the exchange; any later call, and any call the last step did not ask
// for (a response while a password check is pending, provide_secret() to PLAIN, ...), returns a
// Failure. One mechanism object serves one exchange.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "sasl/crypto.hpp"
#include "sasl/scram_secret.hpp"

namespace taube::sasl {

// Send to the client (raw octets, possibly empty; SMTP base64-encodes them into a 334 reply).
struct Challenge {
  std::string data;
};
// Check these credentials, then call credentials_checked(). The password is handed over, not
// kept by the mechanism: wipe it when done.
struct VerifyPassword {
  std::string username;
  std::string password;
};
// Look up this user's SCRAM secret, then call provide_secret().
struct LookupSecret {
  std::string username;
};
// Authenticated as username(). `data`: the mechanism's additional data with success (RFC 4422
// §3.6), SCRAM's server-final message "v=...". SMTP cannot carry it in the 235 reply, so the
// session sends it as one more 334 challenge and answers the client's empty response with 235
// (RFC 4954 §4).
struct Success {
  std::optional<std::string> data;
};
// The exchange failed. `reason` is for the log, never for the client: every failure gets the
// same reply, so a client cannot tell which part was wrong (or whether the user exists).
struct Failure {
  std::string reason;
};

using ServerStep = std::variant<Challenge, VerifyPassword, LookupSecret, Success, Failure>;

class ServerMechanism {
 public:
  virtual ~ServerMechanism();
  ServerMechanism(const ServerMechanism&) = delete;
  ServerMechanism& operator=(const ServerMechanism&) = delete;

  // "PLAIN", "LOGIN" or "SCRAM-SHA-256".
  virtual std::string_view name() const = 0;

  // Begins the exchange. `initial_response`: the client's decoded initial response (RFC 4422
  // §3.3; in SMTP the AUTH command's second argument, "=" being an empty one), nullopt when it
  // sent none: then PLAIN and SCRAM answer with an empty Challenge and LOGIN asks "Username:".
  ServerStep start(std::optional<std::string_view> initial_response);
  // The client's decoded response to the last Challenge.
  ServerStep step(std::string_view response);
  // The answer to VerifyPassword: Success when `ok`, else Failure.
  ServerStep credentials_checked(bool ok);
  // The answer to LookupSecret. nullopt (no such user, or no SCRAM secret) continues with a
  // stand-in secret, so that the exchange looks the same as for a known user with a wrong
  // password (RFC 5802 §5.1) and fails at the proof.
  ServerStep provide_secret(std::optional<ScramSecret> secret);

  // The authentication identity the client named (empty until a step named it). After Success:
  // the user now authenticated.
  const std::string& username() const { return username_; }
  // True once Success or Failure was returned.
  bool finished() const { return awaiting_ == Awaiting::Nothing; }

 protected:
  ServerMechanism() = default;
  virtual ServerStep on_start(std::optional<std::string_view> initial_response) = 0;
  virtual ServerStep on_step(std::string_view response) = 0;
  virtual ServerStep on_credentials_checked(bool ok);
  virtual ServerStep on_provide_secret(std::optional<ScramSecret> secret);
  std::string username_;

 private:
  enum class Awaiting { Start, Response, Credentials, Secret, Nothing };
  // Records what `s` asks of the caller next.
  ServerStep advance(ServerStep s);
  ServerStep out_of_sequence();
  Awaiting awaiting_ = Awaiting::Start;
};

// The mechanisms make_server_mechanism() knows, in the order SMTP advertises them.
inline constexpr std::array<std::string_view, 3> kServerMechanisms = {"PLAIN", "LOGIN",
                                                                      "SCRAM-SHA-256"};

// A new exchange of mechanism `name` (case-insensitive), or nullptr for a name Taube does not
// support. `crypto` must outlive the mechanism (a process-wide object).
// `stand_in_key` (SCRAM): a per-process random secret, e.g. 32 octets drawn at start-up. An
// unknown user's stand-in salt is HMAC(stand_in_key, username), the same for the same name for
// the life of the process, so repeated attempts cannot tell an unknown user from a known one by
// the salt (RFC 5802 §5.1). PLAIN and LOGIN ignore it.
std::unique_ptr<ServerMechanism> make_server_mechanism(std::string_view name, Crypto& crypto,
                                                       std::string_view stand_in_key = {});

}  // namespace taube::sasl
