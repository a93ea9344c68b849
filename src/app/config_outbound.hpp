// The outbound half of the configuration file: [queue], [outbound], [transport] and the
// smarthost keys of [relay] (the contract in docs/configuration.md / etc/taube.toml.example).
#pragma once

#include <string>

#include <tl/expected.hpp>

#include "app/config.hpp"
#include "app/table_reader.hpp"

namespace taube::app {

tl::expected<void, std::string> read_queue(TableReader& r, Config& c);
tl::expected<void, std::string> read_outbound(TableReader& r, Config& c);
tl::expected<void, std::string> read_transport(TableReader& r, Config& c);
// [relay] smarthost, smarthost_tls, smarthost_auth_file.
tl::expected<void, std::string> read_smarthost(TableReader& r, Config& c);

// Warnings for values that work but go against the RFCs' advice (check-config prints them).
std::vector<std::string> outbound_warnings(const Config& c);

}  // namespace taube::app
