#include "queue/census.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "queue/listing.hpp"

namespace taube::queue {
namespace {

QueueEnvelope envelope(std::int64_t arrival, std::uint32_t attempts = 0, std::int64_t held = 0) {
  QueueEnvelope env;
  env.arrival = arrival;
  env.held = held;
  QueuedRecipient r;
  r.attempts = attempts;
  env.recipients.push_back(r);
  return env;
}

TEST(QueueCensus, StateOfAgreesWithTheListingsQueueName) {
  struct Case {
    QueueEnvelope env;
    bool busy;
  };
  const std::vector<Case> cases = {{envelope(1), false},       {envelope(1), true},
                                   {envelope(1, 2), false},    {envelope(1, 2), true},
                                   {envelope(1, 0, 5), false}, {envelope(1, 3, 5), true}};
  for (const auto& c : cases) {
    ListedItem li;
    li.envelope = c.env;
    li.active = c.busy;
    EXPECT_EQ(state_name(state_of(c.env, c.busy)), queue_name(li));
  }
}

TEST(QueueCensus, CountsEachItemOnceWhateverTimesItIsSet) {
  QueueCensus census;
  CensusSlot a, b;
  census.set(a, envelope(100), false);
  census.set(a, envelope(100), false);
  census.set(b, envelope(200), false);
  EXPECT_EQ(census.count(QueueState::Incoming), 2u);
  EXPECT_EQ(census.total(), 2u);
  EXPECT_EQ(census.oldest_arrival(QueueState::Incoming), 100);
  EXPECT_FALSE(census.oldest_arrival(QueueState::Deferred));
}

TEST(QueueCensus, MovesItemsBetweenStatesAndTracksTheOldest) {
  QueueCensus census;
  CensusSlot a, b, c;
  census.set(a, envelope(100), false);
  census.set(b, envelope(50), false);
  census.set(c, envelope(70), false);
  census.set(b, envelope(50), true);  // an attempt starts
  EXPECT_EQ(census.count(QueueState::Active), 1u);
  EXPECT_EQ(census.oldest_arrival(QueueState::Incoming), 70);
  census.set(b, envelope(50, 1), false);  // deferred by it
  EXPECT_EQ(census.count(QueueState::Active), 0u);
  EXPECT_FALSE(census.oldest_arrival(QueueState::Active));
  EXPECT_EQ(census.count(QueueState::Deferred), 1u);
  EXPECT_EQ(census.oldest_arrival(QueueState::Deferred), 50);
  census.set(b, envelope(50, 1, 900), false);  // put on hold at 900
  EXPECT_EQ(census.count(QueueState::Hold), 1u);
  EXPECT_EQ(census.count(QueueState::Deferred), 0u);
  EXPECT_EQ(census.oldest_arrival(QueueState::Hold), 50);
  EXPECT_EQ(census.oldest_hold(), 900);
  census.set(b, envelope(50, 1), false);  // released
  EXPECT_FALSE(census.oldest_hold());
  EXPECT_EQ(census.total(), 3u);
}

TEST(QueueCensus, ItemsOfTheSameSecondShareTheOldestUntilTheLastLeaves) {
  QueueCensus census;
  CensusSlot a, b, c;
  census.set(a, envelope(10), false);
  census.set(b, envelope(10), false);
  census.set(c, envelope(20), false);
  census.remove(a);
  EXPECT_EQ(census.oldest_arrival(QueueState::Incoming), 10);
  census.remove(b);
  EXPECT_EQ(census.oldest_arrival(QueueState::Incoming), 20);
  census.remove(b);  // twice: ignored
  census.remove(c);
  EXPECT_EQ(census.total(), 0u);
  EXPECT_FALSE(census.oldest_arrival(QueueState::Incoming));
}

TEST(QueueCensus, HoldTimesAreKeptApartFromArrivals) {
  QueueCensus census;
  CensusSlot a, b;
  census.set(a, envelope(10, 0, 500), false);
  census.set(b, envelope(400, 0, 450), false);
  EXPECT_EQ(census.oldest_arrival(QueueState::Hold), 10);
  EXPECT_EQ(census.oldest_hold(), 450);  // b was held first, though a arrived first
  census.remove(b);
  EXPECT_EQ(census.oldest_hold(), 500);
}

}  // namespace
}  // namespace taube::queue
