// `taube queue`: the administrator's view of the outbound queue, through the running server's
// control socket (net/control_server.hpp, docs/queue-control.md): list (mailq), list --json
// (postqueue -j), show ID, why ID, destinations [--json] [SORT], flush [DOMAIN],
// hold/release/delete/requeue/bounce ID...
// ("-" reads the IDs from standard input, one or more per line, as postsuper does).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace taube::app {

struct QueueCommand {
  CLI::App* command = nullptr;     // parsed when *command is true
  std::string config;              // -c: the server's configuration (for [queue] control_socket)
  std::string socket;              // --socket: overrides it
  bool json = false;               // list --json, destinations --json
  std::vector<std::string> words;  // the action and its arguments
};

void add_queue_command(CLI::App& app, QueueCommand& qc);

// Exit codes (sysexits): 0 done; 1 the server refused part of it (an unknown ID, an item busy);
// 64 usage; 69 the server is not running (no control socket); 78 a bad configuration.
int run_queue_command(const QueueCommand& qc);

// `mailq` and `sendmail -bp`: the listing of run_queue_command.
int run_mailq(const std::string& config);
// The program called as `mailq [-C FILE]` (sendmail's flag for the configuration; default
// $TAUBE_CONFIG, else /etc/taube/taube.toml when it exists, else the built-in defaults).
int mailq_main(int argc, char** argv);

}  // namespace taube::app
