// Tests for src/queue/schedule.cpp: retry delays (exact, at the jitter's middle and bounds), the
// whole life of a message deferred at every attempt (every retry time, the one delay warning, the
// expiry bounce), NOTIFY and the null sender, and the per-destination controller.
#include "queue/schedule.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

using std::chrono::seconds;

RetryPolicy small_policy() {
  RetryPolicy p;
  p.retry_min = seconds{1};
  p.retry_max = seconds{2};
  p.max_lifetime = seconds{20};
  p.delay_warning = seconds{5};
  return p;
}

TEST(NextRetry, DefaultsAtTheMiddleOfTheJitter) {
  const RetryPolicy p;
  const std::vector<long> expected = {300, 600, 1200, 2400, 4000, 4000, 4000, 4000};
  for (std::uint32_t n = 1; n <= expected.size(); ++n)
    EXPECT_EQ(next_retry(n, p, 0.5).count(), expected[n - 1]) << "attempt " << n;
}

TEST(NextRetry, DefaultsAtTheJitterBounds) {
  const RetryPolicy p;
  const std::vector<long> low = {270, 540, 1080, 2160, 3600, 3600};
  const std::vector<long> high = {330, 660, 1320, 2640, 4400, 4400};
  for (std::uint32_t n = 1; n <= low.size(); ++n) {
    EXPECT_EQ(next_retry(n, p, 0.0).count(), low[n - 1]) << "attempt " << n;
    EXPECT_EQ(next_retry(n, p, 1.0).count(), high[n - 1]) << "attempt " << n;
  }
}

TEST(NextRetry, EdgesOfTheInputs) {
  const RetryPolicy p;
  EXPECT_EQ(next_retry(0, p, 0.5).count(), 300);  // read as the first retry
  EXPECT_EQ(next_retry(std::numeric_limits<std::uint32_t>::max(), p, 0.5).count(), 4000);
  EXPECT_EQ(next_retry(1, p, -3.0).count(), 270);  // clamped to 0
  EXPECT_EQ(next_retry(1, p, 7.0).count(), 330);   // clamped to 1
  EXPECT_EQ(next_retry(1, p, std::nan("")).count(), 300);
  RetryPolicy no_jitter = p;
  no_jitter.jitter = 0;
  EXPECT_EQ(next_retry(3, no_jitter, 1.0).count(), 1200);
  RetryPolicy wild = p;
  wild.jitter = 5;  // clamped to 1: the delay is between 0 (then 1 s) and twice the base
  EXPECT_EQ(next_retry(1, wild, 0.0).count(), 1);
  EXPECT_EQ(next_retry(1, wild, 1.0).count(), 600);
  RetryPolicy zero = p;
  zero.retry_min = seconds{0};
  EXPECT_EQ(next_retry(1, zero, 0.5).count(), 1);  // never below 1 s
}

TEST(NextRetry, SmallTestValues) {
  const RetryPolicy p = small_policy();
  EXPECT_EQ(next_retry(1, p, 0.5).count(), 1);
  EXPECT_EQ(next_retry(2, p, 0.5).count(), 2);
  EXPECT_EQ(next_retry(3, p, 0.5).count(), 2);
  EXPECT_EQ(next_retry(1, p, 0.0).count(), 1);  // 0.9 rounds to 1
  EXPECT_EQ(next_retry(2, p, 1.0).count(), 2);  // 2.2 rounds to 2
}

TEST(Deadlines, LifetimeAndWarning) {
  RetryPolicy p;
  EXPECT_EQ(lifetime_deadline(1000, p), 1000 + 432000);
  EXPECT_EQ(delay_warning_time(1000, p), 1000 + 14400);
  p.delay_warning = seconds{0};
  EXPECT_FALSE(delay_warning_time(1000, p));
}

struct Life {
  std::vector<std::int64_t> attempt_times;
  std::vector<std::int64_t> warnings;
  std::int64_t expired_at = -1;
  Decision last;
};

// Defers every attempt of one recipient from `arrival` on, each attempt made exactly when the
// previous decision asked, until the recipient leaves the Deferred states.
Life live(const RetryPolicy& p, std::int64_t arrival, unsigned notify, bool null_sender) {
  Life life;
  AttemptFacts f;
  f.arrival = arrival;
  f.now = arrival;
  f.attempts = 0;
  f.notify = notify;
  f.null_sender = null_sender;
  const AttemptResult r{AttemptOutcome::Deferred, "451 4.7.1 Greylisted, try again", "",
                        Handoff::PassedOn};
  for (int guard = 0; guard < 10000; ++guard) {
    ++f.attempts;
    life.attempt_times.push_back(f.now);
    const Decision d = decide_after_attempt(f, r, p, 0.5);
    if (d.delay_warning_needed()) life.warnings.push_back(f.now);
    life.last = d;
    if (d.state != RecipientState::Deferred && d.state != RecipientState::DelayNotified) {
      if (d.expired) life.expired_at = f.now;
      break;
    }
    EXPECT_GT(d.next_attempt, f.now);
    f.delay_warning_sent = d.state == RecipientState::DelayNotified;
    f.now = d.next_attempt;
  }
  return life;
}

TEST(RecipientLife, FiveDaysAtTheDefaults) {
  const std::int64_t t0 = 1764600000;
  const Life life = live(RetryPolicy{}, t0, 0, false);
  // Back-off 300, 600, 1200, 2400, then the 4000 s cap; one attempt at the warning time (4 h);
  // every 4000 s after it; the last at the deadline itself.
  std::vector<std::int64_t> expected = {0, 300, 900, 2100, 4500, 8500, 12500, 14400};
  while (expected.back() + 4000 < 432000) expected.push_back(expected.back() + 4000);
  expected.push_back(432000);
  for (auto& t : expected) t += t0;
  ASSERT_EQ(life.attempt_times, expected);
  EXPECT_EQ(life.attempt_times.size(), 113u);
  EXPECT_EQ(life.warnings, std::vector<std::int64_t>{t0 + 14400});
  EXPECT_EQ(life.expired_at, t0 + 432000);
  EXPECT_EQ(life.last.state, RecipientState::Failed);
  EXPECT_TRUE(life.last.bounce_needed());
  EXPECT_EQ(life.last.status, "4.4.7");
  EXPECT_EQ(life.last.diagnostic, "451 4.7.1 Greylisted, try again");
}

TEST(RecipientLife, SmallTestValues) {
  const Life life = live(small_policy(), 100, 0, false);
  const std::vector<std::int64_t> expected = {100, 101, 103, 105, 107, 109,
                                              111, 113, 115, 117, 119, 120};
  EXPECT_EQ(life.attempt_times, expected);
  EXPECT_EQ(life.warnings, std::vector<std::int64_t>{105});
  EXPECT_EQ(life.expired_at, 120);
  EXPECT_TRUE(life.last.bounce_needed());
}

TEST(RecipientLife, NoWarningWhenOffOrWhenItWouldComeAfterTheDeadline) {
  RetryPolicy p = small_policy();
  p.delay_warning = seconds{0};
  Life life = live(p, 0, 0, false);
  EXPECT_TRUE(life.warnings.empty());
  EXPECT_EQ(life.expired_at, 20);
  p.delay_warning = seconds{20};  // due at the deadline: the expiry bounce says it all
  life = live(p, 0, 0, false);
  EXPECT_TRUE(life.warnings.empty());
  EXPECT_EQ(life.expired_at, 20);
  p.delay_warning = seconds{19};
  life = live(p, 0, 0, false);
  EXPECT_EQ(life.warnings, std::vector<std::int64_t>{19});
}

TEST(RecipientLife, NotifyNeverAndNullSenderGetNoNoticeAndNoExtraAttempt) {
  for (const bool null_sender : {false, true}) {
    const Life life = live(RetryPolicy{}, 0, null_sender ? 0 : smtp::NotifyNever, null_sender);
    EXPECT_TRUE(life.warnings.empty());
    EXPECT_EQ(life.expired_at, 432000);  // still expires
    EXPECT_FALSE(life.last.notice);
    EXPECT_EQ(life.last.state, RecipientState::Failed);
    // No attempt at 14400 for a warning that will not be sent: 12500 is followed by 16500.
    ASSERT_GT(life.attempt_times.size(), 7u);
    EXPECT_EQ(life.attempt_times[6], 12500);
    EXPECT_EQ(life.attempt_times[7], 16500);
  }
}

// Which notice each NOTIFY value gets for each outcome (RFC 3461 §4.1).
TEST(RecipientDecision, NotifyCombinations) {
  using smtp::NotifyDelay, smtp::NotifyFailure, smtp::NotifyNever, smtp::NotifySuccess;
  struct Row {
    unsigned notify;
    bool failure, delay, success;
  };
  const Row rows[] = {
      {0, true, true, false},
      {NotifyNever, false, false, false},
      {NotifySuccess, false, false, true},
      {NotifyFailure, true, false, false},
      {NotifyDelay, false, true, false},
      {NotifySuccess | NotifyFailure, true, false, true},
      {NotifyFailure | NotifyDelay, true, true, false},
      {NotifySuccess | NotifyDelay, false, true, true},
      {NotifySuccess | NotifyFailure | NotifyDelay, true, true, true},
  };
  const RetryPolicy p;
  for (const Row& row : rows) {
    SCOPED_TRACE(row.notify);
    AttemptFacts f;
    f.notify = row.notify;
    f.now = 100;
    const AttemptResult failed{AttemptOutcome::Failed, "550 5.1.1 no such user", "", {}};
    EXPECT_EQ(decide_after_attempt(f, failed, p, 0.5).bounce_needed(), row.failure);
    EXPECT_EQ(decide_after_attempt(f, failed, p, 0.5).state, RecipientState::Failed);

    f.now = 20000;  // after the warning time
    const AttemptResult deferred{AttemptOutcome::Deferred, "421 busy", "", {}};
    const Decision d = decide_after_attempt(f, deferred, p, 0.5);
    EXPECT_EQ(d.delay_warning_needed(), row.delay);
    EXPECT_EQ(d.state, row.delay ? RecipientState::DelayNotified : RecipientState::Deferred);

    f.now = 432000;  // expiry is a failure notice
    EXPECT_EQ(decide_after_attempt(f, deferred, p, 0.5).bounce_needed(), row.failure);

    f.now = 100;
    AttemptResult ok{AttemptOutcome::Accepted, "250 2.0.0 Ok", "", Handoff::Delivered};
    auto expect_success = [&](Handoff h, std::optional<DsnAction> when_wanted) {
      ok.handoff = h;
      const Decision s = decide_after_attempt(f, ok, p, 0.5);
      EXPECT_EQ(s.state, RecipientState::Delivered);
      EXPECT_EQ(s.notice, row.success ? when_wanted : std::nullopt);
    };
    expect_success(Handoff::Delivered, DsnAction::Delivered);
    expect_success(Handoff::Relayed, DsnAction::Relayed);
    expect_success(Handoff::PassedOn, std::nullopt);  // the next server reports (§5.2.2)
  }
}

TEST(RecipientDecision, NullSenderNeverGetsANotice) {
  const RetryPolicy p;
  AttemptFacts f;
  f.null_sender = true;
  f.notify = smtp::NotifySuccess | smtp::NotifyFailure | smtp::NotifyDelay;
  f.now = 20000;
  for (const AttemptOutcome o : {AttemptOutcome::Accepted, AttemptOutcome::Failed,
                                 AttemptOutcome::Deferred, AttemptOutcome::Unknown}) {
    const Decision d = decide_after_attempt(f, {o, "x", "", Handoff::Delivered}, p, 0.5);
    EXPECT_FALSE(d.notice) << static_cast<int>(o);
  }
  EXPECT_FALSE(expire(f, "451 later").notice);
}

TEST(RecipientDecision, WarningOnlyOnce) {
  const RetryPolicy p;
  AttemptFacts f;
  f.now = 20000;
  f.attempts = 9;
  f.delay_warning_sent = true;
  const Decision d = decide_after_attempt(f, {AttemptOutcome::Deferred, "451 x", "", {}}, p, 0.5);
  EXPECT_FALSE(d.notice);
  EXPECT_EQ(d.state, RecipientState::DelayNotified);
  EXPECT_EQ(d.next_attempt, 24000);
}

TEST(RecipientDecision, UnknownAfterEndOfDataIsRetried) {
  const RetryPolicy p;
  AttemptFacts f;
  f.now = 50;
  const Decision d = decide_after_attempt(
      f, {AttemptOutcome::Unknown, "lost connection after end of data", "", {}}, p, 0.5);
  EXPECT_EQ(d.state, RecipientState::Deferred);
  EXPECT_EQ(d.next_attempt, 350);
  EXPECT_EQ(d.status, "4.4.2");
  EXPECT_FALSE(d.notice);
}

TEST(RecipientDecision, DeadlineAtNAndNPlusOne) {
  const RetryPolicy p;
  AttemptFacts f;
  f.attempts = 50;
  f.now = 432000 - 1;
  const AttemptResult r{AttemptOutcome::Deferred, "451 4.3.0 later", "", {}};
  Decision d = decide_after_attempt(f, r, p, 0.5);
  EXPECT_FALSE(d.expired);
  EXPECT_EQ(d.next_attempt, 432000);  // clamped to the deadline
  f.now = 432000;
  d = decide_after_attempt(f, r, p, 0.5);
  EXPECT_TRUE(d.expired);
  EXPECT_EQ(d.state, RecipientState::Failed);
  EXPECT_EQ(d.next_attempt, 0);
}

TEST(RecipientDecision, StatusAndDiagnostic) {
  const RetryPolicy p;
  AttemptFacts f;
  Decision d =
      decide_after_attempt(f, {AttemptOutcome::Failed, "550 5.1.1 <b@x>: unknown", "", {}}, p, 0.5);
  EXPECT_EQ(d.status, "5.1.1");
  EXPECT_EQ(d.diagnostic, "550 5.1.1 <b@x>: unknown");
  d = decide_after_attempt(f, {AttemptOutcome::Failed, "550 5.1.1 x", "5.7.1", {}}, p, 0.5);
  EXPECT_EQ(d.status, "5.7.1");  // given status wins
  d = decide_after_attempt(f, {AttemptOutcome::Accepted, "250 Ok", "", {}}, p, 0.5);
  EXPECT_EQ(d.status, "2.0.0");
  d = expire(f, "421 4.4.2 timeout");
  EXPECT_EQ(d.status, "4.4.7");
  EXPECT_EQ(d.diagnostic, "421 4.4.2 timeout");
  EXPECT_TRUE(d.bounce_needed());
}

TEST(StatusOfReply, Forms) {
  EXPECT_EQ(status_of_reply("550 5.1.1 user unknown", AttemptOutcome::Failed), "5.1.1");
  EXPECT_EQ(status_of_reply("421-4.7.0 go away", AttemptOutcome::Deferred), "4.7.0");
  EXPECT_EQ(status_of_reply("452 4.2.2", AttemptOutcome::Deferred), "4.2.2");
  EXPECT_EQ(status_of_reply("554 5.123.456 x", AttemptOutcome::Failed), "5.123.456");
  EXPECT_EQ(status_of_reply("554 5.1234.1 x", AttemptOutcome::Failed), "5.0.0");  // 4 digits
  EXPECT_EQ(status_of_reply("550 4.1.1 class mismatch", AttemptOutcome::Failed), "5.0.0");
  EXPECT_EQ(status_of_reply("550 no such user", AttemptOutcome::Failed), "5.0.0");
  EXPECT_EQ(status_of_reply("421", AttemptOutcome::Deferred), "4.0.0");
  EXPECT_EQ(status_of_reply("550 5.1.1x", AttemptOutcome::Failed), "5.0.0");
  EXPECT_EQ(status_of_reply("connect: refused", AttemptOutcome::Deferred), "4.0.0");
  EXPECT_EQ(status_of_reply("", AttemptOutcome::Unknown), "4.4.2");
  EXPECT_EQ(status_of_reply("", AttemptOutcome::Failed), "5.0.0");
  EXPECT_EQ(status_of_reply("", AttemptOutcome::Accepted), "2.0.0");
  EXPECT_EQ(status_of_reply("354 go", AttemptOutcome::Deferred), "4.0.0");
}

TEST(Destination, ConnectionLimit) {
  DestinationState d;
  EXPECT_EQ(d.limit(), 5u);
  EXPECT_TRUE(d.may_connect(0, 4));
  EXPECT_FALSE(d.may_connect(0, 5));
}

TEST(Destination, GrowsOneStepPerRoundByDefault) {
  DestinationState d;
  for (int i = 0; i < 4; ++i) d.delivered();
  EXPECT_EQ(d.limit(), 5u);  // N-1 deliveries at limit 5
  d.delivered();
  EXPECT_EQ(d.limit(), 6u);  // N
  for (int i = 0; i < 5; ++i) d.delivered();
  EXPECT_EQ(d.limit(), 6u);  // 5 at limit 6
  d.delivered();
  EXPECT_EQ(d.limit(), 7u);
  for (int i = 0; i < 1000; ++i) d.delivered();
  EXPECT_EQ(d.limit(), 20u);  // capped
}

TEST(Destination, FixedStepAndCap) {
  DestinationPolicy p;
  p.successes_per_step = 2;
  p.max_concurrency = 7;
  DestinationState d(p);
  d.delivered();
  EXPECT_EQ(d.limit(), 5u);
  d.delivered();
  EXPECT_EQ(d.limit(), 6u);
  d.delivered();
  d.delivered();
  EXPECT_EQ(d.limit(), 7u);  // N = max
  d.delivered();
  d.delivered();
  EXPECT_EQ(d.limit(), 7u);  // N+1 refused
  EXPECT_TRUE(d.may_connect(0, 6));
  EXPECT_FALSE(d.may_connect(0, 7));
}

TEST(Destination, OddPoliciesAreClamped) {
  DestinationPolicy p;
  p.initial_concurrency = 50;
  p.max_concurrency = 3;
  EXPECT_EQ(DestinationState(p).limit(), 3u);
  p.initial_concurrency = 0;
  p.max_concurrency = 0;
  DestinationState d(p);
  EXPECT_EQ(d.limit(), 1u);
  d.delivered();
  EXPECT_EQ(d.limit(), 1u);
}

TEST(Destination, FailuresHoldBackAndHalve) {
  DestinationPolicy p;
  p.successes_per_step = 1;
  DestinationState d(p);
  for (int i = 0; i < 15; ++i) d.delivered();
  ASSERT_EQ(d.limit(), 20u);
  std::int64_t now = 1000;
  const std::uint32_t limits[] = {10, 5, 2, 1, 1, 1};
  const std::int64_t holds[] = {300, 600, 1200, 2400, 4000, 4000};
  for (int i = 0; i < 6; ++i) {
    const std::int64_t until = d.connection_failed(now, 0.5);
    EXPECT_EQ(until, now + holds[i]) << i;
    EXPECT_EQ(d.limit(), limits[i]) << i;
    EXPECT_EQ(d.consecutive_failures(), static_cast<std::uint32_t>(i + 1));
    EXPECT_TRUE(d.held(now));
    EXPECT_FALSE(d.may_connect(now, 0));  // held back as a whole
    EXPECT_FALSE(d.may_connect(until - 1, 0));
    EXPECT_TRUE(d.may_connect(until, 0));
    EXPECT_EQ(due_at(now + 10, d), until);  // a recipient due earlier waits for it
    EXPECT_EQ(due_at(until + 10, d), until + 10);
    now = until;
  }
}

TEST(Destination, FailuresDuringAHoldAreOne) {
  DestinationState d;
  EXPECT_EQ(d.connection_failed(0, 0.5), 300);
  EXPECT_EQ(d.connection_failed(1, 0.0), 300);  // the rest of the cohort fails too
  EXPECT_EQ(d.connection_failed(299, 1.0), 300);
  EXPECT_EQ(d.consecutive_failures(), 1u);
  EXPECT_EQ(d.limit(), 2u);
  EXPECT_EQ(d.connection_failed(300, 0.5), 300 + 600);  // the probe after the hold
  EXPECT_EQ(d.consecutive_failures(), 2u);
  EXPECT_EQ(d.limit(), 1u);
}

TEST(Destination, RecoveryDrainsAtFullSpeed) {
  DestinationState d;
  d.connection_failed(0, 0.5);
  d.connection_failed(300, 0.5);
  ASSERT_EQ(d.limit(), 1u);
  d.delivered();  // e.g. a connection opened before the hold that finally worked
  EXPECT_FALSE(d.held(1));
  EXPECT_EQ(d.held_until(), 0);
  EXPECT_EQ(d.consecutive_failures(), 0u);
  EXPECT_EQ(d.limit(), 5u);
  EXPECT_TRUE(d.may_connect(1, 4));
  // A new failure starts the hold ladder from the bottom again.
  EXPECT_EQ(d.connection_failed(10, 0.5), 310);

  DestinationState e;
  e.connection_failed(0, 0.5);
  e.answered();  // a session that got 4xx per recipient: the destination is up
  EXPECT_FALSE(e.held(0));
  EXPECT_EQ(e.consecutive_failures(), 0u);
  EXPECT_EQ(e.limit(), 5u);
  e.answered();
  EXPECT_EQ(e.limit(), 5u);  // no growth from answers
}

TEST(Destination, RecoveryKeepsAHigherLimit) {
  DestinationPolicy p;
  p.successes_per_step = 1;
  DestinationState d(p);
  for (int i = 0; i < 15; ++i) d.delivered();
  d.connection_failed(0, 0.5);
  ASSERT_EQ(d.limit(), 10u);
  d.delivered();
  EXPECT_EQ(d.limit(), 11u);  // not lowered to 5, and this delivery counts
}

}  // namespace
}  // namespace taube::queue
