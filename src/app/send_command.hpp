// `taube send`: a sending client in the spirit of swaks (docs/send.md). It composes a message
// (app/mime_compose.hpp), finds the server (--server, or the MX of the first recipient's domain
// through net::Resolver), and delivers it with the queue's own client: net::OutboundConnection
// over the sans-I/O smtp::client::ClientSession. The exit code is a sysexits(3) code.
#pragma once

#include <optional>

namespace CLI {
class App;
}

namespace taube::app {

// sysexits(3) codes of `taube send` (docs/send.md).
namespace send_exit {
constexpr int kDelivered = 0;     // every recipient accepted
constexpr int kUsage = 64;        // EX_USAGE: bad option or argument
constexpr int kNoInput = 66;      // EX_NOINPUT: --body, --attach or --password-file unreadable
constexpr int kUnavailable = 69;  // EX_UNAVAILABLE: refused (5xx) for at least one recipient
constexpr int kSoftware = 70;     // EX_SOFTWARE: internal error
constexpr int kTempFail = 75;     // EX_TEMPFAIL: deferred (4xx, connection or TLS failure)
constexpr int kNoPerm = 77;       // EX_NOPERM: AUTH refused (535 and other 5xx to AUTH)
}  // namespace send_exit

// Called from main() before the command line is parsed: declares `send` on `app` (so that
// `taube --help` lists it) and, when argv[1] is "send", parses the rest itself (usage errors
// exit 64, not CLI11's codes) and runs it. Returns nothing when the command is another one.
std::optional<int> run_send_if_asked(CLI::App& app, int argc, char** argv);

}  // namespace taube::app
