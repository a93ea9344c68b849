// console/session_store: tokens, CSRF, lifetime and idle expiry, the limit on sessions.
#include "console/session_store.hpp"

#include <gtest/gtest.h>

namespace taube::console {
namespace {

using namespace std::chrono_literals;
using Clock = SessionStore::Clock;

TEST(ConsoleSessions, CreateFindAndRemove) {
  SessionStore s({});
  const auto t0 = Clock::time_point{} + 1000h;
  auto a = s.create("admin", t0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->token.size(), 64u);
  EXPECT_EQ(a->session.csrf.size(), 64u);
  EXPECT_NE(a->token, a->session.csrf);
  auto b = s.create("admin", t0);
  ASSERT_TRUE(b);
  EXPECT_NE(a->token, b->token);
  const auto* found = s.find(a->token, t0 + 1s);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->user, "admin");
  EXPECT_EQ(s.find("", t0), nullptr);
  EXPECT_EQ(s.find(a->session.csrf, t0), nullptr);  // the CSRF token is not a session
  s.remove(a->token);
  EXPECT_EQ(s.find(a->token, t0), nullptr);
  EXPECT_NE(s.find(b->token, t0), nullptr);
}

TEST(ConsoleSessions, CsrfMustMatchExactly) {
  SessionStore s({});
  auto a = *s.create("admin", Clock::now());
  EXPECT_TRUE(SessionStore::csrf_matches(a.session, a.session.csrf));
  EXPECT_FALSE(SessionStore::csrf_matches(a.session, ""));
  EXPECT_FALSE(SessionStore::csrf_matches(a.session, a.session.csrf.substr(1)));
  std::string wrong = a.session.csrf;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_FALSE(SessionStore::csrf_matches(a.session, wrong));
}

TEST(ConsoleSessions, IdleAndLifetimeExpiry) {
  SessionStore s({.lifetime = 100s, .idle = 30s, .max_sessions = 10});
  const auto t0 = Clock::time_point{} + 1000h;
  auto a = *s.create("admin", t0);
  // Used every 29 s it stays until the lifetime ends.
  for (auto t = t0 + 29s; t < t0 + 100s; t += 29s) EXPECT_NE(s.find(a.token, t), nullptr);
  EXPECT_EQ(s.find(a.token, t0 + 100s), nullptr);
  auto b = *s.create("admin", t0);
  EXPECT_EQ(s.remaining(*s.find(b.token, t0 + 10s), t0 + 10s), 90);
  EXPECT_EQ(s.find(b.token, t0 + 10s + 30s), nullptr);  // idle for 30 s
}

TEST(ConsoleSessions, TheLeastRecentlyUsedGoesBeyondTheLimit) {
  SessionStore s({.lifetime = 1000s, .idle = 1000s, .max_sessions = 2});
  const auto t0 = Clock::time_point{} + 1000h;
  auto a = *s.create("a", t0);
  auto b = *s.create("b", t0 + 1s);
  EXPECT_NE(s.find(a.token, t0 + 2s), nullptr);  // a is now the more recent
  auto c = *s.create("c", t0 + 3s);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_NE(s.find(a.token, t0 + 4s), nullptr);
  EXPECT_EQ(s.find(b.token, t0 + 4s), nullptr);
  EXPECT_NE(s.find(c.token, t0 + 4s), nullptr);
}

}  // namespace
}  // namespace taube::console
