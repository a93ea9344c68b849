#include "app/send_input.hpp"

#include <pwd.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

namespace taube::app {

std::string send_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string send_login_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_name) return pw->pw_name;
  return "root";
}

bool read_send_input(const std::string& path, std::string& out) {
  if (path == "-") {
    out.assign(std::istreambuf_iterator<char>(std::cin), {});
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), {});
  return !in.bad();
}

// The password: TAUBE_PASSWORD, --password-file, or a prompt on the terminal without echo (the
// body may be on standard input, so the prompt reads /dev/tty).
std::optional<std::string> send_password(const std::string& user, const std::string& file,
                                         std::string& error) {
  if (const char* p = std::getenv("TAUBE_PASSWORD"); p && *p) return std::string(p);
  if (!file.empty()) {
    std::string text;
    if (!read_send_input(file, text)) {
      error = "cannot read --password-file " + file;
      return std::nullopt;
    }
    const auto nl = text.find_first_of("\r\n");
    return text.substr(0, nl);
  }
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (!tty) {
    error =
        "--auth needs a password: set TAUBE_PASSWORD, give --password-file, or run on a terminal";
    return std::nullopt;
  }
  const int fd = ::fileno(tty);
  termios old{};
  ::tcgetattr(fd, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::fprintf(tty, "Password for %s: ", user.c_str());
  std::fflush(tty);
  ::tcsetattr(fd, TCSANOW, &quiet);
  std::string pw;
  for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty))
    pw.push_back(static_cast<char>(c));
  ::tcsetattr(fd, TCSANOW, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  return pw;
}

}  // namespace taube::app
