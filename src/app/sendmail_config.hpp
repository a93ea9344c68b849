// What `taube sendmail` needs of the server's configuration (docs/sendmail.md): the submit
// socket, the host name and the origin. Read straight from the TOML file, not through
// load_config(): that one also reads the secrets a configuration names (the SRS secret, the
// smarthost's password file), which an ordinary user who runs sendmail may not read. Only these
// keys are looked at; the rest is the server's to validate.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace taube::app {

struct SubmitterConfig {
  std::string hostname;       // hostname (EHLO, Message-ID)
  std::string origin;         // the first of [delivery] domains, else hostname
  std::string submit_socket;  // [queue] submit_socket; "" when turned off
};

// `path` empty: the built-in defaults. Errors name the file (and line, for TOML syntax).
tl::expected<SubmitterConfig, std::string> load_submitter_config(const std::string& path);

}  // namespace taube::app
