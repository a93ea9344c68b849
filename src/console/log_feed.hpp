// LogFeed: the console's live log (GET /api/v1/log, Server-Sent Events). A spdlog sink added
// beside the configured output (app/log_output.hpp) that keeps the last `capacity` lines in a
// ring, each with a sequence number; a reader asks for the lines after the last number it saw.
// Lines are written from whatever thread logs (the event loop, a pool thread), hence the mutex;
// readers poll (the SSE stream checks a few times a second), so the sink never has to reach
// into the event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>

namespace taube::console {

class LogFeed final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogFeed(std::size_t capacity = 1000) : capacity_(capacity) {}

  struct Line {
    std::uint64_t seq;
    std::string text;  // "2026-12-02T18:00:00Z taube/smtpd info: connect from ..."
  };
  // The lines after `after` that contain `filter` (empty: all), at most `max` of them (the
  // newest ones when there are more). Returns the last sequence number in the ring, so a
  // filtered reader moves on past the lines it skipped.
  std::uint64_t since(std::uint64_t after, const std::string& filter, std::size_t max,
                      std::vector<Line>& out);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::size_t capacity_;
  std::deque<Line> lines_;
  std::uint64_t next_ = 1;
};

}  // namespace taube::console
