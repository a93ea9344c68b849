// The server's process signals (SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 reopens the log)
// read from a signalfd(2) on the event loop instead of caught by a signal handler.
//
// Why: open() blocks the signals in the calling thread before any other thread exists, so every
// thread inherits the mask and no thread ever runs a handler. A signal then stays pending for
// the process until the event loop reads it from the descriptor: no async-signal-safety rules,
// no EINTR in the disk workers' fdatasync, nothing lost between a handler and the loop. With a
// handler (asio::signal_set), GCC 12's ThreadSanitizer runtime lost about one SIGTERM in forty
// that arrived just after start-up (the server never stopped); with the descriptor the
// runtime's signal interception is not involved at all.
//
// Taube never forks, so the blocked mask is inherited by no child program.
#pragma once

#include <sys/signalfd.h>

#include <array>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <tl/expected.hpp>

namespace taube::app {

class SignalSource {
 public:
  // Blocks `signals` in the calling thread and opens a descriptor for them. Call it first in
  // main, before anything starts a thread (threads started earlier keep their mask and may
  // take the signal themselves, with its default action).
  static tl::expected<std::unique_ptr<SignalSource>, std::string> open(
      std::initializer_list<int> signals);
  ~SignalSource();
  SignalSource(const SignalSource&) = delete;
  SignalSource& operator=(const SignalSource&) = delete;

  // Reads on `io`'s loop from now on; `handler(signo)` runs there for each signal, in the order
  // they arrived. One sent before start() (during start-up) is delivered then. `io` must outlive
  // the source (declare it first), or close() must have been called.
  void start(asio::io_context& io, std::function<void(int)> handler);
  // Stops reading (io.run() can return). Signals sent later stay pending, unhandled.
  void close();

 private:
  explicit SignalSource(int fd) : fd_(fd) {}
  void read();

  int fd_;
  std::optional<asio::posix::stream_descriptor> stream_;
  std::function<void(int)> handler_;
  std::array<signalfd_siginfo, 4> buffer_{};
};

}  // namespace taube::app
