// Internal to taube_sasl: the concrete mechanisms behind make_server_mechanism() and
// make_client_mechanism(). Callers use the factories.
#pragma once

#include <memory>
#include <string_view>

#include "sasl/client_mechanism.hpp"
#include "sasl/server_mechanism.hpp"

namespace taube::sasl::detail {

std::unique_ptr<ServerMechanism> make_plain_server();
std::unique_ptr<ServerMechanism> make_login_server();
std::unique_ptr<ServerMechanism> make_scram_server(Crypto& crypto, std::string_view stand_in_key);

std::unique_ptr<ClientMechanism> make_plain_client(ClientCredentials credentials);
std::unique_ptr<ClientMechanism> make_login_client(ClientCredentials credentials);
std::unique_ptr<ClientMechanism> make_scram_client(ClientCredentials credentials,
                                                   ClientCrypto& crypto);

}  // namespace taube::sasl::detail
