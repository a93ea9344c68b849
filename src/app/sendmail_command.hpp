// `taube sendmail`, and the binary called as `sendmail` or `newaliases` (docs/sendmail.md):
// the sendmail(8) interface that cron, PHP's mail(), git send-email and mail(1) expect of
// /usr/sbin/sendmail. A message is submitted over the running server's local submission socket
// ([queue] submit_socket, net/submit_server.hpp) with the queue's own SMTP client
// (net::OutboundConnection); -bs relays standard input and output to a session on that
// socket; -bp and -q use the control socket (app/queue_command.hpp). Exit codes: sysexits(3).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace taube::app {

namespace sendmail_exit {
constexpr int kOk = 0;
constexpr int kUsage = 64;        // EX_USAGE: a bad option, no recipients
constexpr int kDataErr = 65;      // EX_DATAERR: a bad address in the message, none found by -t
constexpr int kNoUser = 67;       // EX_NOUSER: a recipient refused as unknown (5.1.x)
constexpr int kUnavailable = 69;  // EX_UNAVAILABLE: refused otherwise (5xx)
constexpr int kSoftware = 70;     // EX_SOFTWARE: internal error
constexpr int kIoErr = 74;        // EX_IOERR: standard input unreadable
constexpr int kTempFail = 75;     // EX_TEMPFAIL: the server is not running, or deferred (4xx)
constexpr int kConfig = 78;       // EX_CONFIG: the configuration cannot be read
}  // namespace sendmail_exit

// `program`: "sendmail" or "newaliases" (argv[0]'s base name, or "sendmail" for the
// subcommand); `args`: the arguments after it.
int run_sendmail(const std::string& program, const std::vector<std::string>& args);

// From main() before the command line is parsed: lists `sendmail` in `taube --help` and runs it
// when argv[1] is "sendmail". Nothing when the command is another one.
std::optional<int> run_sendmail_if_asked(CLI::App& app, int argc, char** argv);

}  // namespace taube::app
