#include "console/log_feed.hpp"

#include <ctime>

namespace taube::console {

void LogFeed::sink_it_(const spdlog::details::log_msg& msg) {
  const auto t = spdlog::log_clock::to_time_t(msg.time);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const auto level = spdlog::level::to_string_view(msg.level);
  std::string text = stamp;
  text += ' ';
  text.append(msg.logger_name.data(), msg.logger_name.size());
  text += ' ';
  text.append(level.data(), level.size());
  text += ": ";
  // One event per line on the wire: a line break inside a message would end the SSE field.
  for (const char c : std::string_view(msg.payload.data(), msg.payload.size()))
    text += (c == '\n' || c == '\r') ? ' ' : c;
  lines_.push_back({next_++, std::move(text)});
  while (lines_.size() > capacity_) lines_.pop_front();
}

std::uint64_t LogFeed::since(std::uint64_t after, const std::string& filter, std::size_t max,
                             std::vector<Line>& out) {
  std::lock_guard lock(mutex_);
  for (const auto& l : lines_) {
    if (l.seq <= after) continue;
    if (!filter.empty() && l.text.find(filter) == std::string::npos) continue;
    out.push_back(l);
  }
  if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max));
  return next_ - 1;
}

}  // namespace taube::console
