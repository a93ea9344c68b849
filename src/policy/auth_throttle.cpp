#include "policy/auth_throttle.hpp"

#include <algorithm>

namespace taube::policy {

bool AuthThrottle::failure(const inet::IpAddress& client, Clock::time_point now) {
  auto& e = entries_[client];
  std::erase_if(e.failures, [&](auto t) { return now - t > rules_.window; });
  e.failures.push_back(now);
  if (e.failures.size() >= rules_.max_failures) {
    e.banned_until = now + rules_.ban;
    e.failures.clear();
    return true;
  }
  return false;
}

bool AuthThrottle::banned(const inet::IpAddress& client, Clock::time_point now) {
  auto it = entries_.find(client);
  if (it == entries_.end()) return false;
  if (it->second.banned_until > now) return true;
  // Forget addresses with nothing recent, so the table stays small.
  std::erase_if(it->second.failures, [&](auto t) { return now - t > rules_.window; });
  if (it->second.failures.empty()) entries_.erase(it);
  return false;
}

}  // namespace taube::policy
