// console/activity: per-minute counts in a ring; old laps and a clock stepped back.
#include "console/activity.hpp"

#include <gtest/gtest.h>

namespace taube::console {
namespace {

TEST(ConsoleActivity, CountsPerMinuteOldestFirst) {
  ActivitySeries a(10);
  const std::int64_t t = 1'800'000'000 - 1'800'000'000 % 60;  // a minute's start
  a.add(Activity::Received, t);
  a.add(Activity::Received, t + 59);
  a.add(Activity::Delivered, t + 60, 3);
  a.add(Activity::Bounced, t + 120);
  const auto s = a.snapshot(t + 130, 3);
  EXPECT_EQ(s.first_minute, t);
  EXPECT_EQ(s.counts[0], (std::vector<std::uint64_t>{2, 0, 0}));
  EXPECT_EQ(s.counts[1], (std::vector<std::uint64_t>{0, 3, 0}));
  EXPECT_EQ(s.counts[3], (std::vector<std::uint64_t>{0, 0, 1}));
  EXPECT_EQ(std::string(activity_name(Activity::Deferred)), "deferred");
}

TEST(ConsoleActivity, ALapOfTheRingLaterTheOldCountsAreGone) {
  ActivitySeries a(10);
  const std::int64_t t = 600'000;
  a.add(Activity::Received, t);
  a.add(Activity::Received, t + 600);  // the same slot, ten minutes later
  const auto s = a.snapshot(t + 600, 10);
  EXPECT_EQ(s.counts[0].back(), 1u);
  EXPECT_EQ(s.counts[0].front(), 0u);
  // An event from before the slot's minute (a clock stepped back) does not rewind it.
  a.add(Activity::Received, t);
  EXPECT_EQ(a.snapshot(t + 600, 10).counts[0].back(), 1u);
  // Asked for more minutes than it keeps: its size.
  EXPECT_EQ(a.snapshot(t + 600, 100).counts[0].size(), 10u);
}

// The TLS share's series are counted apart from the mail's, each under its own JSON name.
TEST(ConsoleActivity, SessionAndTlsSeriesAreTheirOwn) {
  ActivitySeries a(5);
  const std::int64_t t = 600'000;
  a.add(Activity::SessionsIn, t, 4);
  a.add(Activity::TlsIn, t, 3);
  a.add(Activity::OpenedOut, t, 2);
  a.add(Activity::TlsOut, t);
  const auto s = a.snapshot(t, 1);
  EXPECT_EQ(s.counts[static_cast<std::size_t>(Activity::SessionsIn)].back(), 4u);
  EXPECT_EQ(s.counts[static_cast<std::size_t>(Activity::TlsIn)].back(), 3u);
  EXPECT_EQ(s.counts[static_cast<std::size_t>(Activity::OpenedOut)].back(), 2u);
  EXPECT_EQ(s.counts[static_cast<std::size_t>(Activity::TlsOut)].back(), 1u);
  EXPECT_EQ(s.counts[static_cast<std::size_t>(Activity::Received)].back(), 0u);
  std::vector<std::string> names;
  for (std::size_t k = 0; k < kActivities; ++k)
    names.emplace_back(activity_name(static_cast<Activity>(k)));
  EXPECT_EQ(names,
            (std::vector<std::string>{"received", "delivered", "deferred", "bounced", "rejected",
                                      "sessions_in", "tls_in", "opened_out", "tls_out"}));
}

}  // namespace
}  // namespace taube::console
