#include "queue/destination_stats.hpp"

#include <gtest/gtest.h>

#include <string>

namespace taube::queue {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000;  // a minute boundary plus 20 s
constexpr auto kDelivered = static_cast<std::size_t>(AttemptKind::Delivered);
constexpr auto kDeferred = static_cast<std::size_t>(AttemptKind::Deferred);
constexpr auto kConn = static_cast<std::size_t>(AttemptKind::ConnectionError);
constexpr auto kTls = static_cast<std::size_t>(AttemptKind::TlsFailure);

TEST(DestinationStats, CountsEachKindInTheLastHourAndInTotal) {
  DestinationStats s;
  s.record("a.example:25", AttemptKind::Delivered, kT0, 3);
  s.record("a.example:25", AttemptKind::Deferred, kT0 + 1, 1, "451 4.7.1 greylisted");
  s.record("a.example:25", AttemptKind::ConnectionError, kT0 + 2, 1, "connect: refused");
  s.record("a.example:25", AttemptKind::TlsFailure, kT0 + 3, 2, "TLS handshake failed");
  s.record("a.example:25", AttemptKind::Bounced, kT0 + 4, 1, "550 5.1.1 no such user");
  auto h = s.get("a.example:25", kT0 + 5);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->last_hour, (AttemptCounts{3, 1, 1, 1, 2}));
  EXPECT_EQ(h->total, h->last_hour);
  EXPECT_EQ(h->last_success, kT0);
  EXPECT_EQ(h->last_failure, kT0 + 4);
  EXPECT_EQ(h->last_error, "550 5.1.1 no such user");
  EXPECT_EQ(h->first_seen, kT0);
  EXPECT_EQ(h->last_seen, kT0 + 4);
  EXPECT_FALSE(s.get("b.example:25", kT0));
}

TEST(DestinationStats, TheLastHourIsTheCurrentMinuteAndTheFiftyNineBefore) {
  DestinationStats s;
  const std::int64_t m0 = (kT0 / 60) * 60;  // the start of a minute
  for (int i = 0; i < 90; ++i) s.record("d", AttemptKind::Deferred, m0 + i * 60 + 30);
  // At the 90th minute's end: minutes 30..89 are the last hour.
  auto h = s.get("d", m0 + 89 * 60 + 59);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->last_hour[kDeferred], 60u);
  EXPECT_EQ(h->total[kDeferred], 90u);
  // One minute later the oldest of them has left the hour.
  EXPECT_EQ(s.get("d", m0 + 90 * 60)->last_hour[kDeferred], 59u);
  // Long after, nothing is left of the hour, the totals stay.
  h = s.get("d", m0 + 500 * 60);
  EXPECT_EQ(h->last_hour, AttemptCounts{});
  EXPECT_EQ(h->total[kDeferred], 90u);
}

TEST(DestinationStats, ABucketReusedAnHourLaterStartsOver) {
  DestinationStats s;
  s.record("d", AttemptKind::Delivered, kT0, 5);
  // The same ring slot, 60 minutes on.
  s.record("d", AttemptKind::Delivered, kT0 + 3600, 1);
  auto h = s.get("d", kT0 + 3600);
  EXPECT_EQ(h->last_hour[kDelivered], 1u);
  EXPECT_EQ(h->total[kDelivered], 6u);
}

TEST(DestinationStats, AClockSetBackNeitherCrashesNorCountsTheFutureAsTheLastHour) {
  DestinationStats s;
  s.record("d", AttemptKind::ConnectionError, kT0 + 600, 2, "timeout");
  // Asked at an earlier time: those events lie ahead, not in the hour before.
  EXPECT_EQ(s.get("d", kT0)->last_hour[kConn], 0u);
  s.record("d", AttemptKind::ConnectionError, kT0, 1, "refused");
  auto h = s.get("d", kT0);
  EXPECT_EQ(h->last_hour[kConn], 1u);
  EXPECT_EQ(h->total[kConn], 3u);
  // The later failure stays the last one.
  EXPECT_EQ(h->last_failure, kT0 + 600);
  EXPECT_EQ(h->last_error, "timeout");
}

TEST(DestinationStats, ErrorTextIsOneBoundedLine) {
  DestinationStats s;
  s.record("d", AttemptKind::TlsFailure, kT0, 1, "line one\r\nline two\tend");
  EXPECT_EQ(s.get("d", kT0)->last_error, "line one  line two end");
  s.record("d", AttemptKind::Deferred, kT0 + 1, 1, std::string(5000, 'x'));
  EXPECT_EQ(s.get("d", kT0 + 1)->last_error.size(), DestinationStats::kMaxErrorText);
  // A success does not wipe the error (it is shown with its time), and zero events are none.
  s.record("d", AttemptKind::Delivered, kT0 + 2);
  s.record("d", AttemptKind::Deferred, kT0 + 3, 0, "nothing");
  auto h = s.get("d", kT0 + 3);
  EXPECT_EQ(h->last_error.size(), DestinationStats::kMaxErrorText);
  EXPECT_EQ(h->last_success, kT0 + 2);
  EXPECT_EQ(h->total[kDeferred], 1u);
}

TEST(DestinationStats, TheCapDropsTheLeastRecentlyUsedIdleDestination) {
  DestinationStats s(3);
  s.record("a", AttemptKind::Delivered, kT0);
  s.record("b", AttemptKind::Delivered, kT0 + 1);
  s.record("c", AttemptKind::Delivered, kT0 + 2);
  s.record("a", AttemptKind::Delivered, kT0 + 3);  // a is the most recent now: b the least
  // b is busy (a connection open): c goes instead.
  auto idle = [](const std::string& k) { return k != "b"; };
  s.record("d", AttemptKind::Deferred, kT0 + 4, 1, "x", idle);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.get("b", kT0));
  EXPECT_FALSE(s.get("c", kT0));
  EXPECT_TRUE(s.get("a", kT0));
  EXPECT_TRUE(s.get("d", kT0));
  EXPECT_EQ(s.evicted(), 1u);
  // Without a predicate, the least recently used goes: b.
  s.record("e", AttemptKind::Deferred, kT0 + 5);
  EXPECT_FALSE(s.get("b", kT0));
  // When every one is busy, the cap still holds: the least recently used (a) goes.
  s.record("f", AttemptKind::Deferred, kT0 + 6, 1, {}, [](const std::string&) { return false; });
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.get("a", kT0));
  EXPECT_EQ(s.evicted(), 3u);
  // all(): most recently used first.
  auto all = s.all(kT0 + 6);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].key, "f");
  EXPECT_EQ(all[1].key, "e");
  EXPECT_EQ(all[2].key, "d");
}

TEST(DestinationStats, AThousandDestinationsAtTheCapStayBounded) {
  DestinationStats s(100);
  for (int i = 0; i < 1000; ++i)
    s.record("d" + std::to_string(i), AttemptKind::TlsFailure, kT0 + i, 1, "e");
  EXPECT_EQ(s.size(), 100u);
  EXPECT_EQ(s.evicted(), 900u);
  EXPECT_TRUE(s.get("d999", kT0 + 1000));
  EXPECT_FALSE(s.get("d899", kT0 + 1000));
  EXPECT_EQ(s.get("d999", kT0 + 1000)->total[kTls], 1u);
}

TEST(DestinationStats, KindNamesAreTheApisWords) {
  EXPECT_EQ(attempt_kind_name(AttemptKind::Delivered), "delivered");
  EXPECT_EQ(attempt_kind_name(AttemptKind::Deferred), "deferred");
  EXPECT_EQ(attempt_kind_name(AttemptKind::Bounced), "bounced");
  EXPECT_EQ(attempt_kind_name(AttemptKind::ConnectionError), "connection_errors");
  EXPECT_EQ(attempt_kind_name(AttemptKind::TlsFailure), "tls_failures");
}

}  // namespace
}  // namespace taube::queue
