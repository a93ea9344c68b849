#include "app/service_notify.hpp"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace taube::app {

namespace {

std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

std::string with_status(std::string head, std::string_view status) {
  if (!status.empty()) head += "\nSTATUS=" + one_line(status);
  return head;
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

std::string status_message(std::string_view text) {
  return "STATUS=" + one_line(text);
}

std::string ready_message(std::string_view status) {
  return with_status("READY=1", status);
}

std::string reloading_message(std::string_view status, std::uint64_t monotonic_usec) {
  return with_status(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec), status);
}

std::string stopping_message(std::string_view status) {
  return with_status("STOPPING=1", status);
}

std::string listening_status(const std::vector<asio::ip::tcp::endpoint>& endpoints) {
  std::string s = "accepting mail on ";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    if (i > 0) s += ", ";
    s += e.address().is_v6() ? fmt::format("[{}]:{}", e.address().to_string(), e.port())
                             : fmt::format("{}:{}", e.address().to_string(), e.port());
  }
  return s;
}

std::string running_status(std::size_t connections, std::size_t queued, bool queue_loaded) {
  return fmt::format("{} connection(s); queue: {} message(s){}", connections, queued,
                     queue_loaded ? "" : ", loading");
}

ServiceNotifier::ServiceNotifier(asio::io_context& io) : timer_(io) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // > 0: WatchdogSec= is set for this process (it checks $WATCHDOG_PID against our pid).
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
}

void ServiceNotifier::send(const std::string& message) {
  if (!enabled_) return;
  // The environment stays set (unset_environment = 0): every later message needs it too.
  if (const int r = sd_notify(0, message.c_str()); r < 0)
    spdlog::warn("sd_notify: {}", std::strerror(-r));
}

void ServiceNotifier::status(std::string_view text) {
  last_status_ = one_line(text);
  send(status_message(text));
}

void ServiceNotifier::ready(std::string_view status) {
  if (!status.empty()) last_status_ = one_line(status);
  send(ready_message(status));
}

void ServiceNotifier::reloading(std::string_view status) {
  send(reloading_message(status, monotonic_usec()));
}

void ServiceNotifier::stopping(std::string_view status) {
  stopped_ = true;
  timer_.cancel();
  send(stopping_message(status));
}

void ServiceNotifier::keep_informed(std::function<std::string()> status,
                                    std::chrono::milliseconds interval) {
  if (!enabled_ || stopped_) return;
  status_ = std::move(status);
  status_every_ = interval;
  period_ = interval;
  if (watchdog_.count() > 0)
    period_ = std::min(
        period_, std::max(std::chrono::milliseconds(1),
                          std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_) / 2));
  if (watchdog_.count() > 0) send("WATCHDOG=1");
  tick();
}

void ServiceNotifier::tick() {
  timer_.expires_after(period_);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    if (watchdog_.count() > 0) send("WATCHDOG=1");
    since_status_ += period_;
    if (since_status_ >= status_every_) {
      since_status_ = std::chrono::milliseconds(0);
      // Only a change is sent: systemd keeps the last STATUS= anyway.
      if (std::string s = one_line(status_()); s != last_status_) {
        last_status_ = s;
        send(status_message(s));
      }
    }
    tick();
  });
}

}  // namespace taube::app
