#include "net/queue_id.hpp"

#include <atomic>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace taube::net {

std::string new_queue_id() {
  static std::atomic<std::uint32_t> seq{0};
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  // 44 bits of microseconds (about 200 days before wrapping, enough with the seconds in the
  // Maildir name) and 20 bits of sequence.
  const std::uint64_t v = (static_cast<std::uint64_t>(us) << 20) | (seq.fetch_add(1) & 0xFFFFF);
  return fmt::format("{:016X}", v);
}

std::string rfc5322_date_now() {
  const std::time_t t = std::time(nullptr);
  // Formatting the date is a measurable cost per message: reuse it within the same second.
  thread_local std::time_t cached_at = -1;
  thread_local std::string cached;
  if (t == cached_at) return cached;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  cached_at = t;
  cached = buf;
  return cached;
}

}  // namespace taube::net
