#include "policy/connect_policy.hpp"

namespace taube::policy {

bool ConnectionLimiter::exempt(const inet::IpAddress& client) const {
  for (const auto& n : rules_.per_client_exempt)
    if (n.contains(client)) return true;
  return false;
}

Admission ConnectionLimiter::admit(const inet::IpAddress& client) {
  if (total_ >= rules_.max_connections) return Admission::TooManyConnections;
  auto it = per_client_.find(client);
  const std::size_t n = it == per_client_.end() ? 0 : it->second;
  if (n >= rules_.max_per_client && !exempt(client)) return Admission::TooManyFromClient;
  ++per_client_[client];
  ++total_;
  return Admission::Admitted;
}

void ConnectionLimiter::release(const inet::IpAddress& client) {
  auto it = per_client_.find(client);
  if (it == per_client_.end()) return;
  --total_;
  if (--it->second == 0) per_client_.erase(it);
}

std::size_t ConnectionLimiter::from(const inet::IpAddress& client) const {
  auto it = per_client_.find(client);
  return it == per_client_.end() ? 0 : it->second;
}

}  // namespace taube::policy
