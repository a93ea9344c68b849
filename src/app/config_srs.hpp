// The [srs] section of the configuration file: the Sender Rewriting Scheme for forwarded mail
// (policy/srs.hpp; docs/outbound.md "SRS"; etc/taube.toml.example).
//
//   [srs]
//   enabled = false
//   domain = ""            # the SRS domain; "" = the first of [delivery] domains
//   secret_file = ""       # one secret per line: the first signs, every one verifies
//   max_age_days = 21      # how long a bounce address stays valid (libsrs2's default)
//   exclude_domains = []   # senders in these domains are never rewritten
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "app/config.hpp"
#include "app/table_reader.hpp"

namespace taube::app {

tl::expected<void, std::string> read_srs(TableReader& r, Config& c);

// The secrets of a secret file: one a line, CR LF or LF line ends, empty lines skipped (as
// postsrsd reads its secrets-file). A line with leading or trailing white space or a control
// character is an error naming "file:line" (a secret edited by accident would stop every
// outstanding bounce address from verifying); so is a file without any secret.
tl::expected<std::vector<std::string>, std::string> read_srs_secrets(const std::string& path);

// After the file: hands the SRS rules to recipient policy (c.server.relay) when SRS is on, with
// OpenSSL's HMAC-SHA1 and the system clock.
void finish_srs(Config& c);

// The domain SRS addresses are made in: [srs] domain, or the first local domain.
std::string srs_domain(const Config& c);

// What check-config says about SRS (nothing when it is off).
std::vector<std::string> srs_notes(const Config& c);

}  // namespace taube::app
