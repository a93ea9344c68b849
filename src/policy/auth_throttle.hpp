// AuthThrottle: failed AUTH attempts per client address (RFC 4954 §4 leaves the policy to the
// server). max_failures within `window` ban the address for `ban`. Time is passed in, never read.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <vector>

#include "inet/ip_address.hpp"

namespace taube::policy {

struct ThrottleRules {
  std::size_t max_failures = 5;
  std::chrono::milliseconds window = std::chrono::minutes(5);
  std::chrono::milliseconds ban = std::chrono::minutes(10);
};

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AuthThrottle(ThrottleRules rules) : rules_(rules) {}
  // Records a failure; returns true when the address is now banned.
  bool failure(const inet::IpAddress& client, Clock::time_point now);
  bool banned(const inet::IpAddress& client, Clock::time_point now);
  void set_rules(ThrottleRules rules) { rules_ = rules; }

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;
    Clock::time_point banned_until{};
  };
  ThrottleRules rules_;
  std::map<inet::IpAddress, Entry> entries_;
};

}  // namespace taube::policy
