// What `taube send` reads from outside (docs/send.md): files and standard input, the password
// (TAUBE_PASSWORD, a file, or a prompt on the terminal without echo), this host's names.
#pragma once

#include <optional>
#include <string>

namespace taube::app {

std::string send_host_name();   // gethostname(), "localhost" when it has none
std::string send_login_name();  // $USER, else the passwd entry of the real user id
// A whole file, or standard input for "-".
bool read_send_input(const std::string& path, std::string& out);
// TAUBE_PASSWORD, else the first line of `file` (if given), else a prompt on /dev/tty without
// echo (the body may be on standard input). Nothing, with `error` saying why, when none works.
std::optional<std::string> send_password(const std::string& user, const std::string& file,
                                         std::string& error);

}  // namespace taube::app
