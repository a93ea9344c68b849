// apply_attempts / expire_overdue: the envelope after an attempt, the notices it owes, and the
// whole life of a two-recipient message on a fake clock.
#include "queue/attempt.hpp"

#include <gtest/gtest.h>

namespace taube::queue {
namespace {

QueueEnvelope two_recipients() {
  QueueEnvelope env;
  env.id = "Q1";
  env.arrival = 1000;
  env.sender.mailbox = *smtp::parse_mailbox("alice@local.test");
  for (const char* a : {"bob@remote.test", "carol@remote.test"}) {
    QueuedRecipient r;
    r.mailbox = *smtp::parse_mailbox(a);
    env.recipients.push_back(r);
  }
  return env;
}

RecipientAttempt attempt(std::size_t i, AttemptOutcome o, std::string reply) {
  RecipientAttempt a;
  a.index = i;
  a.result.outcome = o;
  a.result.reply = std::move(reply);
  a.relay = "mx.remote.test[192.0.2.1]:25";
  a.remote_mta = "mx.remote.test";
  return a;
}

const auto half = [] { return 0.5; };

TEST(ApplyAttempts, PartialDeliveryAndBounce) {
  RetryPolicy p;
  auto env = two_recipients();
  std::vector<RecipientAttempt> a = {attempt(0, AttemptOutcome::Accepted, "250 2.0.0 ok"),
                                     attempt(1, AttemptOutcome::Failed, "550 5.1.1 no such user")};
  auto out = apply_attempts(env, a, 1010, p, half);
  EXPECT_TRUE(out.finished);
  ASSERT_EQ(out.recipients.size(), 2u);
  EXPECT_EQ(out.recipients[0].status, LoggedStatus::Sent);
  EXPECT_EQ(out.recipients[1].status, LoggedStatus::Bounced);
  EXPECT_EQ(env.recipients[0].state, RecipientState::Delivered);
  EXPECT_EQ(env.recipients[1].state, RecipientState::Failed);
  EXPECT_EQ(env.recipients[1].attempts, 1u);
  EXPECT_EQ(env.recipients[1].last_reply, "550 5.1.1 no such user");
  EXPECT_EQ(env.recipients[1].route, "mx.remote.test[192.0.2.1]:25");
  ASSERT_EQ(out.notices.size(), 1u);  // no success notice without NOTIFY=SUCCESS
  EXPECT_EQ(out.notices[0].recipient, 1u);
  EXPECT_EQ(out.notices[0].action, DsnAction::Failed);
  EXPECT_EQ(out.notices[0].status, "5.1.1");
  EXPECT_EQ(out.notices[0].remote_mta, "mx.remote.test");
  EXPECT_EQ(out.notices[0].diagnostic_type, "smtp");
}

TEST(ApplyAttempts, LocalReasonIsNotAnSmtpDiagnostic) {
  RetryPolicy p;
  auto env = two_recipients();
  auto a = attempt(0, AttemptOutcome::Failed, "550 5.1.2 Host or domain name not found");
  a.remote_mta.clear();
  a.relay = "none";
  auto out = apply_attempts(env, std::span(&a, 1), 1010, p, half);
  EXPECT_FALSE(out.finished);  // carol is still pending
  ASSERT_EQ(out.notices.size(), 1u);
  EXPECT_EQ(out.notices[0].diagnostic_type, "x-taube");
}

TEST(ApplyAttempts, AlreadyFinalRecipientsAndBadIndexesAreIgnored) {
  RetryPolicy p;
  auto env = two_recipients();
  env.recipients[0].state = RecipientState::Delivered;
  std::vector<RecipientAttempt> a = {attempt(0, AttemptOutcome::Failed, "550 x"),
                                     attempt(7, AttemptOutcome::Failed, "550 x")};
  auto out = apply_attempts(env, a, 1010, p, half);
  EXPECT_TRUE(out.recipients.empty());
  EXPECT_EQ(env.recipients[0].state, RecipientState::Delivered);
}

TEST(ApplyAttempts, WholeLifeOfADeferredMessage) {
  RetryPolicy p;
  p.retry_min = std::chrono::seconds(1);
  p.retry_max = std::chrono::seconds(2);
  p.max_lifetime = std::chrono::seconds(20);
  p.delay_warning = std::chrono::seconds(3);
  p.jitter = 0;
  auto env = two_recipients();
  std::int64_t t = env.arrival;
  int delayed = 0, attempts = 0;
  bool bounced = false;
  while (next_due(env) && attempts < 100) {
    t = std::max(t, *next_due(env));
    std::vector<RecipientAttempt> a = {attempt(0, AttemptOutcome::Deferred, "451 4.7.1 later"),
                                       attempt(1, AttemptOutcome::Deferred, "451 4.7.1 later")};
    auto out = apply_attempts(env, a, t, p, half);
    ++attempts;
    for (const auto& n : out.notices) {
      if (n.action == DsnAction::Delayed) {
        ++delayed;
        EXPECT_EQ(n.will_retry_until, std::optional<std::int64_t>(env.arrival + 20));
      }
      if (n.action == DsnAction::Failed) {
        bounced = true;
        EXPECT_EQ(n.status, "4.4.7");
        EXPECT_EQ(n.diagnostic, "451 4.7.1 later");
      }
    }
    if (out.finished) {
      for (const auto& r : out.recipients) EXPECT_EQ(r.status, LoggedStatus::Expired);
      break;
    }
  }
  EXPECT_EQ(delayed, 2);  // once per recipient
  EXPECT_TRUE(bounced);
  EXPECT_EQ(t, env.arrival + 20);  // the last attempt at the deadline itself
  EXPECT_GE(attempts, 10);
}

TEST(ExpireOverdue, OnlyAfterTheDeadline) {
  RetryPolicy p;
  p.max_lifetime = std::chrono::seconds(20);
  auto env = two_recipients();
  env.recipients[1].last_reply = "connect to x: refused";
  EXPECT_TRUE(expire_overdue(env, 1019, p).recipients.empty());
  auto out = expire_overdue(env, 1020, p);
  EXPECT_TRUE(out.finished);
  ASSERT_EQ(out.notices.size(), 2u);
  EXPECT_EQ(out.notices[1].diagnostic, "connect to x: refused");
  EXPECT_EQ(env.recipients[0].state, RecipientState::Failed);
}

TEST(ExpireNow, EveryQueuedRecipientFailsWithTheReasonWhateverItsAge) {
  auto env = two_recipients();
  env.recipients[1].last_reply = "451 4.7.1 later";
  env.recipients[0].state = RecipientState::Delivered;
  auto out = expire_now(env, 1001, "expired by the administrator");
  EXPECT_TRUE(out.finished);
  ASSERT_EQ(out.recipients.size(), 1u);
  EXPECT_EQ(out.recipients[0].status, LoggedStatus::Expired);
  ASSERT_EQ(out.notices.size(), 1u);
  EXPECT_EQ(out.notices[0].action, DsnAction::Failed);
  EXPECT_EQ(out.notices[0].diagnostic, "expired by the administrator; last: 451 4.7.1 later");
  EXPECT_EQ(env.recipients[0].state, RecipientState::Delivered);
  EXPECT_EQ(env.recipients[1].state, RecipientState::Failed);
}

}  // namespace
}  // namespace taube::queue
