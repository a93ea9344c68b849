#include "sasl/client_mechanism.hpp"

#include "sasl/mechanisms.hpp"
#include "smtp/wire/address.hpp"

namespace taube::sasl {

ClientMechanism::~ClientMechanism() = default;

std::unique_ptr<ClientMechanism> make_client_mechanism(std::string_view name,
                                                       ClientCredentials credentials,
                                                       ClientCrypto& crypto) {
  if (smtp::ascii_iequals(name, "PLAIN")) return detail::make_plain_client(std::move(credentials));
  if (smtp::ascii_iequals(name, "LOGIN")) return detail::make_login_client(std::move(credentials));
  if (smtp::ascii_iequals(name, "SCRAM-SHA-256"))
    return detail::make_scram_client(std::move(credentials), crypto);
  return nullptr;
}

}  // namespace taube::sasl
