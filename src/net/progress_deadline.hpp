// ProgressDeadline: the rule that ends slow sessions (slowloris). Deadlines are for progress, not
// for single reads, so one byte a second cannot keep a session alive: a command must be complete
// within command_timeout of the previous reply (RFC 5321 §4.5.3.2.7 asks for at least 5 minutes),
// and message content must arrive at `data_progress` octets per data_timeout at least (§4.5.3.2.6
// gives a client 3 minutes per block). No clock is read here: the caller passes `now`, so the
// rule is unit tested with a fake one.
#pragma once

#include <chrono>
#include <cstdint>

namespace taube::net {

class ProgressDeadline {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint64_t kDataProgress = 8 * 1024;

  ProgressDeadline(std::chrono::milliseconds command_timeout,
                   std::chrono::milliseconds data_timeout,
                   std::uint64_t data_progress = kDataProgress)
      : command_(command_timeout), data_(data_timeout), progress_bytes_(data_progress) {}

  // The deadline for the next read. A new deadline starts when the phase changes (commands vs
  // message content), after a reply (a command or a message completed), or when enough content
  // arrived since the last one; otherwise the old deadline stands.
  Clock::time_point before_read(bool in_message, Clock::time_point now);
  // `n` octets arrived.
  void received(std::uint64_t n) { bytes_ += n; }
  // A reply was sent.
  void replied() { progress_ = true; }

 private:
  std::chrono::milliseconds command_, data_;
  std::uint64_t progress_bytes_;
  Clock::time_point deadline_{};
  bool in_message_ = false;
  bool progress_ = true;
  std::uint64_t bytes_ = 0;
};

}  // namespace taube::net
