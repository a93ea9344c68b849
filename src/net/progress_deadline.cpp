#include "net/progress_deadline.hpp"

namespace taube::net {

ProgressDeadline::Clock::time_point ProgressDeadline::before_read(bool in_message,
                                                                  Clock::time_point now) {
  if (in_message != in_message_ || progress_ || (in_message && bytes_ >= progress_bytes_)) {
    deadline_ = now + (in_message ? data_ : command_);
    in_message_ = in_message;
    progress_ = false;
    bytes_ = 0;
  }
  return deadline_;
}

}  // namespace taube::net
