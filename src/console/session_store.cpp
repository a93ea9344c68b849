#include "console/session_store.hpp"

#include <algorithm>

namespace taube::console {

namespace {

std::string hex(std::string_view octets) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(octets.size() * 2);
  for (const char c : octets) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

}  // namespace

tl::expected<std::string, crypto::CryptoError> random_hex(std::size_t n) {
  auto r = crypto::random_octets(n);
  if (!r) return tl::unexpected(r.error());
  std::string h = hex(*r);
  crypto::cleanse(*r);
  return h;
}

std::string SessionStore::key_of(std::string_view token) {
  auto d = crypto::sha256(token);
  // SHA-256 fails only when OpenSSL cannot allocate; then no key matches any session.
  return d ? *d : std::string();
}

bool SessionStore::expired(const Session& s, Clock::time_point now) const {
  return now >= s.created + limits_.lifetime || now >= s.last_used + limits_.idle;
}

tl::expected<SessionStore::Created, crypto::CryptoError> SessionStore::create(
    const std::string& user, Clock::time_point now) {
  auto token = random_hex(32);
  if (!token) return tl::unexpected(token.error());
  auto csrf = random_hex(32);
  if (!csrf) return tl::unexpected(csrf.error());
  const std::string key = key_of(*token);
  if (key.empty()) return tl::unexpected(crypto::CryptoError::Digest);
  // Expired sessions go first, then the least recently used while over the limit.
  std::erase_if(sessions_, [&](const auto& kv) { return expired(kv.second, now); });
  while (!sessions_.empty() && sessions_.size() >= limits_.max_sessions) {
    auto lru = std::min_element(
        sessions_.begin(), sessions_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    sessions_.erase(lru);
  }
  Session s{user, std::move(*csrf), now, now};
  sessions_[key] = s;
  return Created{std::move(*token), std::move(s)};
}

const SessionStore::Session* SessionStore::find(std::string_view token, Clock::time_point now) {
  if (token.empty()) return nullptr;
  const auto it = sessions_.find(key_of(token));
  if (it == sessions_.end()) return nullptr;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return nullptr;
  }
  it->second.last_used = now;
  return &it->second;
}

bool SessionStore::csrf_matches(const Session& s, std::string_view presented) {
  return !presented.empty() && crypto::constant_time_equal(s.csrf, presented);
}

void SessionStore::remove(std::string_view token) {
  sessions_.erase(key_of(token));
}

std::int64_t SessionStore::remaining(const Session& s, Clock::time_point now) const {
  const auto end = s.created + limits_.lifetime;
  return end <= now ? 0 : std::chrono::duration_cast<std::chrono::seconds>(end - now).count();
}

}  // namespace taube::console
