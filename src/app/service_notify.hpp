// Telling the service manager how the server is doing (systemd's Type=notify, sd_notify(3)):
// READY=1 once the listeners are bound and the start-up recovery is done, RELOADING=1 ... READY=1
// around a SIGHUP reload, STOPPING=1 on SIGTERM, STATUS= lines for `systemctl status`, and
// WATCHDOG=1 keep-alives when the unit sets WatchdogSec=. Without $NOTIFY_SOCKET (not started by
// systemd, or Type=simple) every call is a no-op. This is the only file that sees systemd's
// headers (in its .cpp); docs/running.md describes the unit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace taube::app {

// The messages, pure (tested in tests/unit/app/service_notify_test.cpp). sd_notify's protocol is
// newline-separated VAR=value lines, so a status text is kept to one line.
std::string status_message(std::string_view text);
std::string ready_message(std::string_view status);
// systemd >= 253 (Type=notify-reload) wants the CLOCK_MONOTONIC time of the reload with it.
std::string reloading_message(std::string_view status, std::uint64_t monotonic_usec);
std::string stopping_message(std::string_view status);
// "accepting mail on 0.0.0.0:25, [::]:587"
std::string listening_status(const std::vector<asio::ip::tcp::endpoint>& endpoints);
// "3 connection(s); queue: 12 message(s)" (", loading" while the queue's start-up load runs).
std::string running_status(std::size_t connections, std::size_t queued, bool queue_loaded);

class ServiceNotifier {
 public:
  explicit ServiceNotifier(asio::io_context& io);
  // $NOTIFY_SOCKET is set: a service manager listens.
  bool enabled() const { return enabled_; }
  void status(std::string_view text);
  void ready(std::string_view status);
  void reloading(std::string_view status);
  // Also ends keep_informed(): its timer must not keep io.run() from returning.
  void stopping(std::string_view status);
  // From now on, every `interval` a STATUS= line from `status` (and, when the unit sets
  // WatchdogSec=, WATCHDOG=1 at half the watchdog interval, from the event loop: a loop that
  // hangs stops the keep-alives and systemd restarts the service). Nothing without a manager.
  void keep_informed(std::function<std::string()> status, std::chrono::milliseconds interval);

 private:
  void send(const std::string& message);
  void tick();

  asio::steady_timer timer_;
  bool enabled_ = false;
  bool stopped_ = false;
  std::chrono::microseconds watchdog_{0};
  std::chrono::milliseconds period_{0}, status_every_{0}, since_status_{0};
  std::function<std::string()> status_;
  std::string last_status_;
};

}  // namespace taube::app
