// Retry scheduling of the outbound queue, as pure functions of facts: the caller passes the time
// (unix seconds) and every random draw (random01 in [0, 1]), so a message's whole life, from the
// first attempt to the expiry bounce five days later, runs in a unit test without a clock.
//
// Two levels (RFC 5321 §4.5.4.1: retry per destination, not per message):
//  * per recipient, decide_after_attempt(): what an attempt's outcome means for that recipient
//    (delivered, failed, deferred until when), and which notice the sender is due (RFC 3461);
//  * per destination, DestinationState: a destination that cannot be reached is held back as a
//    whole (no connection per queued message until its retry time), and the number of parallel
//    connections to it adapts to how it copes.
// The queue runner tries a recipient at due_at(recipient.next_attempt, destination) and opens a
// connection only when may_connect() says so; its next wake-up is the smallest due_at() of its
// queued recipients.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "queue/dsn.hpp"
#include "queue/envelope.hpp"

namespace taube::queue {

struct RetryPolicy {
  // The first retry comes after retry_min, each further one after twice the previous delay, at
  // most retry_max. RFC 5321 §4.5.4.1 advises at least 30 minutes; Taube retries sooner
  // (greylisting servers accept after a few minutes) and backs off to a bit over an hour.
  std::chrono::seconds retry_min{300};
  std::chrono::seconds retry_max{4000};
  // Each delay is scaled by a factor drawn from [1 - jitter, 1 + jitter], so that the messages
  // deferred together by an outage do not all come back at the same second.
  double jitter = 0.10;
  // Give up after this long in the queue (RFC 5321 §4.5.4.1: "at least 4-5 days").
  std::chrono::seconds max_lifetime{432000};
  // Tell the sender once when a message is still undelivered after this long; 0 = never.
  std::chrono::seconds delay_warning{14400};
};

// The delay before the next attempt after `attempts` attempts (the first retry: attempts == 1; 0
// is read as 1): retry_min * 2^(attempts-1), capped at retry_max, times
// (1 + jitter * (2 * random01 - 1)), rounded to the nearest second and never below 1 s. random01
// and jitter are clamped to [0, 1]. The jitter applies after the cap: a delay may exceed retry_max
// by the jitter fraction.
std::chrono::seconds next_retry(std::uint32_t attempts, const RetryPolicy& policy, double random01);

// When the message stops being retried: arrival + max_lifetime.
std::int64_t lifetime_deadline(std::int64_t arrival, const RetryPolicy& policy);
// When the delay warning becomes due, or nullopt when delay warnings are off.
std::optional<std::int64_t> delay_warning_time(std::int64_t arrival, const RetryPolicy& policy);

enum class AttemptOutcome {
  Accepted,  // 250 to the end of data (or to RCPT and the end of data, for this recipient)
  Deferred,  // a 4xx reply, or no connection could be made
  Failed,    // a 5xx reply: permanent
  // The connection was lost after the end of data was sent and before the reply came: the
  // message may have been delivered. Retried like Deferred, accepting a possible duplicate rather
  // than risking a loss (RFC 1047; RFC 5321 §6.1: a message is never silently lost).
  Unknown,
};

// How an accepted message was handed on; decides the success notice (RFC 3461 §5.2.2).
enum class Handoff {
  PassedOn,   // to a server that supports DSN: NOTIFY went with it, that server reports (no notice)
  Relayed,    // to a server without DSN: a "relayed" notice when NOTIFY has SUCCESS
  Delivered,  // final delivery (local mailbox, LMTP): a "delivered" notice when NOTIFY has SUCCESS
};

struct AttemptResult {
  AttemptOutcome outcome = AttemptOutcome::Deferred;
  // The remote reply, one line ("451 4.7.1 Greylisted"), or a local reason ("connect to
  // mx.example.net[192.0.2.1]:25: Connection refused"). Kept as the diagnostic.
  std::string reply;
  // The RFC 3463 status; empty: taken from `reply` (see status_of_reply).
  std::string status;
  Handoff handoff = Handoff::PassedOn;  // for Accepted
};

// The facts about one recipient at the end of an attempt.
struct AttemptFacts {
  std::int64_t arrival = 0;         // the message's arrival
  std::int64_t now = 0;             // when the attempt ended
  std::uint32_t attempts = 1;       // attempts made for this recipient, this one included
  unsigned notify = 0;              // its NOTIFY flags (smtp::NotifyFlags; 0 = not given)
  bool delay_warning_sent = false;  // its state is DelayNotified
  bool null_sender = false;         // the message is from <>: never any notice
};

struct Decision {
  RecipientState state = RecipientState::Deferred;
  std::int64_t next_attempt = 0;    // Deferred / DelayNotified: when to try again; else 0
  std::optional<DsnAction> notice;  // the notice to send the sender for this recipient, if any
  bool expired = false;             // given up because max_lifetime has passed
  std::string status;               // RFC 3463 status of the outcome ("4.4.7" when expired)
  std::string diagnostic;           // the reply to report (the last remote reply on expiry)

  bool bounce_needed() const { return notice == DsnAction::Failed; }
  bool delay_warning_needed() const { return notice == DsnAction::Delayed; }
};

// The decision after an attempt:
//  * Accepted: Delivered; a success notice by Handoff and NOTIFY.
//  * Failed: Failed; a failure notice unless NOTIFY excludes it.
//  * Deferred / Unknown: if now >= the lifetime deadline, Failed and expired with status 4.4.7
//    (RFC 3463 X.4.7 "delivery time expired"), the reply kept as the diagnostic; else retried at
//    now + next_retry(attempts), but never later than the deadline (one last attempt is made at
//    the deadline itself, so a message gets its whole lifetime) and, while a delay warning is
//    pending, never later than the warning time (so the warning reports a fresh attempt). The
//    delay warning is sent once, by the first deferral at or after arrival + delay_warning, when
//    NOTIFY allows it; the state becomes DelayNotified.
// Notices follow notice_wanted() (dsn.hpp); a message from <> gets none (no DSN of a DSN).
Decision decide_after_attempt(const AttemptFacts& facts, const AttemptResult& result,
                              const RetryPolicy& policy, double random01);

// For a recipient whose deadline has passed without an attempt (its destination was held back,
// or Taube was not running): the same expiry as decide_after_attempt, `last_reply` being the
// recipient's last reply. Call it when facts.now >= lifetime_deadline().
Decision expire(const AttemptFacts& facts, std::string_view last_reply);

// The RFC 3463 status of a reply: its enhanced code when it has one whose class matches the reply
// code ("550 5.1.1 ..." -> "5.1.1"); else the class alone ("550 no" -> "5.0.0", "421" -> "4.0.0");
// else by outcome (Accepted "2.0.0", Failed "5.0.0", Deferred "4.0.0", Unknown "4.4.2": the
// connection broke).
std::string status_of_reply(std::string_view reply, AttemptOutcome outcome);

struct DestinationPolicy {
  std::uint32_t initial_concurrency = 5;
  std::uint32_t max_concurrency = 20;  // per destination
  // Deliveries that earn one more connection. 0 = the current limit: one step per full round of
  // deliveries at the current level (additive increase, like TCP's congestion avoidance and
  // Postfix's 1/concurrency feedback), so that a burst of quick deliveries over 5 connections
  // does not open 20 before the destination has shown it copes with 6.
  std::uint32_t successes_per_step = 0;
  // Hold-back durations: next_retry(consecutive connection failures).
  RetryPolicy retry;
};

// What the queue knows about one destination (a domain's MX set, or a fixed route). Pure: every
// event carries its time and random draw.
class DestinationState {
 public:
  explicit DestinationState(const DestinationPolicy& policy = {});

  // A new connection may be opened: not held back, and fewer than limit() are open.
  bool may_connect(std::int64_t now, std::uint32_t active_connections) const;
  // Held back at `now`: no connection is opened before held_until().
  bool held(std::int64_t now) const { return held_until_ > now; }
  std::int64_t held_until() const { return held_until_; }

  // No connection could be made, or the server refused the session (greeting or EHLO 4xx, TLS
  // required and failed, lost before the first reply to MAIL). Halves the limit (at least 1),
  // counts a consecutive failure and holds the destination back for
  // next_retry(consecutive_failures) from now; returns held_until(). Failures reported while the
  // destination is already held back (connections opened before the hold, failing together) are
  // one failure: they change nothing.
  std::int64_t connection_failed(std::int64_t now, double random01);
  // The destination accepted a message: the hold and the failure count end, and the limit grows
  // by one per successes_per_step deliveries up to max_concurrency. The first delivery after
  // failures raises the limit back to at least initial_concurrency: the failures were an outage,
  // and the mail that waited for it is drained at full speed.
  void delivered();
  // A session worked but its transaction was deferred or refused per recipient (4xx/5xx to RCPT,
  // greylisting): the destination is up, so the hold and the failure count end (and the limit
  // comes back to initial_concurrency as for delivered()); no growth.
  void answered();

  std::uint32_t limit() const { return limit_; }
  std::uint32_t consecutive_failures() const { return failures_; }
  // A reload (SIGHUP) changed the limits or the retry times: they apply from now on; the
  // current limit is kept within the new maximum, a hold in force stays.
  void set_policy(const DestinationPolicy& policy);

 private:
  void recovered();

  DestinationPolicy policy_;
  std::uint32_t limit_;
  std::uint32_t failures_ = 0;
  std::uint32_t successes_ = 0;  // deliveries since the last change of the limit
  std::int64_t held_until_ = 0;
};

// When a recipient may next be tried: its own retry time, or later while its destination is held.
inline std::int64_t due_at(std::int64_t next_attempt, const DestinationState& destination) {
  return next_attempt > destination.held_until() ? next_attempt : destination.held_until();
}

}  // namespace taube::queue
