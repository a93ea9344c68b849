// The client side of PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and SCRAM-SHA-256
// (RFC 5802, RFC 7677), for AUTH to a smarthost. Like the server side it sees decoded octets
// only: the protocol base64-encodes the responses and decodes the challenges.
//
// The exchange: send initial_response() with the request if there is one; answer every server
// challenge with respond(); when the server reports success, call succeeded(). Any error ends
// the exchange (SMTP: answer the challenge with "*", RFC 4954 §4, or drop the connection).
//
// SCRAM authenticates the server too: respond() to the server-final message (SMTP sends it as a
// 334 challenge) fails when the server's signature is wrong, and succeeded() fails when no
// signature was verified. A client must not trust the session then: the server did not prove
// that it knows the user's secret.
#pragma once

#include <tl/expected.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/crypto.hpp"

namespace taube::sasl {

struct ClientCredentials {
  std::string authzid;  // act as this identity; empty: as `username` (the usual case)
  std::string username;
  std::string password;
};

// The response to send (raw octets), or why the exchange must be aborted (for the log).
using ClientStep = tl::expected<std::string, std::string>;

class ClientMechanism {
 public:
  virtual ~ClientMechanism();
  ClientMechanism(const ClientMechanism&) = delete;
  ClientMechanism& operator=(const ClientMechanism&) = delete;

  virtual std::string_view name() const = 0;
  // RFC 4422 §3.3: the initial response to send with the request (SMTP: "AUTH <name> <base64>",
  // "=" when empty), or nullopt for a mechanism without one (LOGIN: the server asks first).
  // Call it at most once, before respond(). A client that does not send it answers the server's
  // first, empty challenge with respond(""), which returns the same message.
  virtual tl::expected<std::optional<std::string>, std::string> initial_response() = 0;
  // The response to the server's decoded challenge.
  virtual ClientStep respond(std::string_view challenge) = 0;
  // The server reported success, with its additional data with success if the protocol carried
  // any (SMTP does not: nullopt). Fails when the exchange is not complete from the client's
  // side (SCRAM: the server never proved itself).
  virtual tl::expected<void, std::string> succeeded(std::optional<std::string_view> data) = 0;

 protected:
  ClientMechanism() = default;
};

// In the order of preference a client should pick them from a server's list: SCRAM-SHA-256 never
// sends the password; LOGIN only when nothing else is offered (draft-murchison-sasl-login §1).
inline constexpr std::array<std::string_view, 3> kClientMechanisms = {"SCRAM-SHA-256", "PLAIN",
                                                                      "LOGIN"};

// RFC 7677 §4 asks for at least 4096 iterations; a server asking for more than this is refused
// rather than letting it make the client compute PBKDF2 for as long as it likes.
inline constexpr int kScramClientMaxIterations = 1'000'000;

// A new exchange of mechanism `name` (case-insensitive) with these credentials, or nullptr for
// a name Taube does not support. `crypto` must outlive the mechanism.
std::unique_ptr<ClientMechanism> make_client_mechanism(std::string_view name,
                                                       ClientCredentials credentials,
                                                       ClientCrypto& crypto);

}  // namespace taube::sasl
