#include "app/queue_command.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "app/config.hpp"

namespace taube::app {
namespace {

constexpr int kUsage = 64, kUnavailable = 69, kConfig = 78;

// One request, the whole reply (the server closes after it).
int talk(const std::string& path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::cerr << "taube queue: socket: " << std::strerror(errno) << "\n";
    return kUnavailable;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::cerr << "taube queue: control socket path too long: " << path << "\n";
    ::close(fd);
    return kConfig;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::cerr << "taube queue: cannot reach the server at " << path << ": " << std::strerror(errno)
              << " (is taube running, with this configuration?)\n";
    ::close(fd);
    return kUnavailable;
  }
  const std::string line = request + "\n";
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::cerr << "taube queue: write: " << std::strerror(errno) << "\n";
      ::close(fd);
      return kUnavailable;
    }
    off += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto nl = reply.find('\n');
  const std::string status = reply.substr(0, nl);
  const std::string body = nl == std::string::npos ? std::string() : reply.substr(nl + 1);
  if (status == "ok") {
    std::cout << body;
    return 0;
  }
  std::cout << body;
  std::cerr << "taube queue: "
            << (status.rfind("error ", 0) == 0 ? status.substr(6) : "no reply from the server")
            << "\n";
  return 1;
}

std::string socket_path(const QueueCommand& qc, int& rc) {
  rc = 0;
  if (!qc.socket.empty()) return qc.socket;
  auto cfg = qc.config.empty() ? tl::expected<Config, std::string>(default_config())
                               : load_config(qc.config);
  if (!cfg) {
    std::cerr << "taube queue: " << cfg.error() << "\n";
    rc = kConfig;
    return {};
  }
  if (cfg->server.outbound.control_socket.empty()) {
    std::cerr << "taube queue: [queue] control_socket is empty: no control socket\n";
    rc = kConfig;
  }
  return cfg->server.outbound.control_socket;
}

}  // namespace

void add_queue_command(CLI::App& app, QueueCommand& qc) {
  qc.command = app.add_subcommand(
      "queue",
      "Show and control the outbound queue of the running server: list [--json], show ID, why "
      "ID, dsn ID (the notice a bounce would send), destinations [--json] [SORT] (qshape and "
      "each destination's health), flush [DOMAIN], "
      "hold|release|delete|requeue|bounce ID... (- reads IDs from stdin)");
  qc.command->add_option("-c,--config", qc.config, "The server's TOML configuration file")
      ->check(CLI::ExistingFile);
  qc.command->add_option("--socket", qc.socket, "The control socket (over [queue] control_socket)");
  qc.command->add_flag("--json", qc.json,
                       "list, destinations: one JSON object per message (postqueue -j) or "
                       "destination");
  qc.command->add_option("action", qc.words, "The action and its arguments")->required();
}

int run_queue_command(const QueueCommand& qc) {
  std::vector<std::string> words = qc.words;
  const std::string action = words.front();
  words.erase(words.begin());
  static const char* kWithIds[] = {"hold", "release", "delete", "requeue", "bounce"};
  bool ids = false;
  for (const char* a : kWithIds) ids = ids || action == a;
  if (ids && words.size() == 1 && words[0] == "-") {
    words.clear();
    std::string id;
    while (std::cin >> id) words.push_back(id);
  }
  if ((action == "list" && !words.empty()) ||
      ((action == "show" || action == "why" || action == "dsn") && words.size() != 1) ||
      (action == "flush" && words.size() > 1) || (action == "destinations" && words.size() > 1) ||
      (ids && words.empty())) {
    std::cerr << "taube queue: usage: list [--json] | show ID | why ID | dsn ID | destinations "
                 "[--json] [SORT] | flush [DOMAIN] | hold|release|delete|requeue|bounce ID... (- "
                 "for IDs on stdin)\n";
    return kUsage;
  }
  std::string request =
      (action == "list" || action == "destinations") && qc.json ? action + "-json" : action;
  for (const auto& w : words) {
    if (w.find_first_of(" \t\r\n") != std::string::npos || w.empty()) {
      std::cerr << "taube queue: bad argument \"" << w << "\"\n";
      return kUsage;
    }
    request += " " + w;
  }
  int rc = 0;
  const std::string path = socket_path(qc, rc);
  if (rc != 0) return rc;
  return talk(path, request);
}

int run_mailq(const std::string& config) {
  QueueCommand qc;
  qc.config = config;
  qc.words = {"list"};
  return run_queue_command(qc);
}

int mailq_main(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-C" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.rfind("-C", 0) == 0 && a.size() > 2) {
      config = a.substr(2);
    } else if (a == "-v") {
      // sendmail's verbose flag: nothing more to say.
    } else {
      std::cerr << "usage: mailq [-C FILE]\n";
      return kUsage;
    }
  }
  // $TAUBE_CONFIG as for sendmail (docs/sendmail.md: Postfix's MAIL_CONFIG).
  if (const char* env = std::getenv("TAUBE_CONFIG"); config.empty() && env && *env) config = env;
  std::error_code ec;
  if (config.empty() && std::filesystem::exists("/etc/taube/taube.toml", ec))
    config = "/etc/taube/taube.toml";
  return run_mailq(config);
}

}  // namespace taube::app
