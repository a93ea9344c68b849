#include "sasl/server_mechanism.hpp"

#include "sasl/mechanisms.hpp"
#include "smtp/wire/address.hpp"

namespace taube::sasl {

ServerMechanism::~ServerMechanism() = default;

ServerStep ServerMechanism::start(std::optional<std::string_view> initial_response) {
  if (awaiting_ != Awaiting::Start) return out_of_sequence();
  return advance(on_start(initial_response));
}

ServerStep ServerMechanism::step(std::string_view response) {
  if (awaiting_ != Awaiting::Response) return out_of_sequence();
  return advance(on_step(response));
}

ServerStep ServerMechanism::credentials_checked(bool ok) {
  if (awaiting_ != Awaiting::Credentials) return out_of_sequence();
  return advance(on_credentials_checked(ok));
}

ServerStep ServerMechanism::provide_secret(std::optional<ScramSecret> secret) {
  if (awaiting_ != Awaiting::Secret) return out_of_sequence();
  return advance(on_provide_secret(std::move(secret)));
}

// Only reached through advance() after the mechanism asked for them, which the mechanisms that
// do not override these never do.
ServerStep ServerMechanism::on_credentials_checked(bool) {
  return Failure{"no password check was requested"};
}
ServerStep ServerMechanism::on_provide_secret(std::optional<ScramSecret>) {
  return Failure{"no secret was requested"};
}

ServerStep ServerMechanism::advance(ServerStep s) {
  if (std::holds_alternative<Challenge>(s))
    awaiting_ = Awaiting::Response;
  else if (std::holds_alternative<VerifyPassword>(s))
    awaiting_ = Awaiting::Credentials;
  else if (std::holds_alternative<LookupSecret>(s))
    awaiting_ = Awaiting::Secret;
  else
    awaiting_ = Awaiting::Nothing;
  return s;
}

ServerStep ServerMechanism::out_of_sequence() {
  const bool was_finished = finished();
  awaiting_ = Awaiting::Nothing;
  return Failure{was_finished ? "the exchange is already over" : "call out of sequence"};
}

std::unique_ptr<ServerMechanism> make_server_mechanism(std::string_view name, Crypto& crypto,
                                                       std::string_view stand_in_key) {
  if (smtp::ascii_iequals(name, "PLAIN")) return detail::make_plain_server();
  if (smtp::ascii_iequals(name, "LOGIN")) return detail::make_login_server();
  if (smtp::ascii_iequals(name, "SCRAM-SHA-256"))
    return detail::make_scram_server(crypto, stand_in_key);
  return nullptr;
}

}  // namespace taube::sasl
