#include "queue/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "smtp/wire/ascii.hpp"

namespace taube::queue {

namespace {

double clamp01(double x) {
  // NaN compares false everywhere: treat it as the middle, not as an extreme.
  if (!(x >= 0.0)) return x < 0.0 ? 0.0 : 0.5;
  return x > 1.0 ? 1.0 : x;
}

// "d.ddd.ddd" (RFC 3463 §2: class "." subject "." detail, 1-3 digits each) at the start of `s`;
// returns its length or 0.
std::size_t enhanced_code_length(std::string_view s) {
  std::size_t i = 0;
  if (s.empty() || !smtp::is_ascii_digit(s[0])) return 0;
  i = 1;
  for (int part = 0; part < 2; ++part) {
    if (i >= s.size() || s[i] != '.') return 0;
    ++i;
    const std::size_t start = i;
    while (i < s.size() && i - start < 4 && smtp::is_ascii_digit(s[i])) ++i;
    if (i == start || i - start > 3) return 0;
  }
  if (i < s.size() && s[i] != ' ') return 0;
  return i;
}

const char* default_status(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::Accepted:
      return "2.0.0";
    case AttemptOutcome::Failed:
      return "5.0.0";
    case AttemptOutcome::Unknown:
      return "4.4.2";  // RFC 3463 X.4.2 bad connection
    case AttemptOutcome::Deferred:
      break;
  }
  return "4.0.0";
}

// The notice for this recipient, if NOTIFY wants it and the sender can receive one.
std::optional<DsnAction> notice_for(const AttemptFacts& f, DsnAction action) {
  // RFC 5321 §4.5.5: no notification about a message whose reverse-path is null.
  if (f.null_sender || !notice_wanted(f.notify, action)) return std::nullopt;
  return action;
}

}  // namespace

std::chrono::seconds next_retry(std::uint32_t attempts, const RetryPolicy& policy,
                                double random01) {
  const std::int64_t cap = std::max<std::int64_t>(policy.retry_max.count(), 0);
  std::int64_t delay = std::max<std::int64_t>(policy.retry_min.count(), 0);
  // Doubling stops at the cap: no overflow however many attempts were made.
  for (std::uint32_t i = 1; i < attempts && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  const double jitter = clamp01(policy.jitter);
  const double factor = 1.0 + jitter * (2.0 * clamp01(random01) - 1.0);
  const auto scaled = std::llround(static_cast<double>(delay) * factor);
  return std::chrono::seconds{std::max<long long>(scaled, 1)};
}

std::int64_t lifetime_deadline(std::int64_t arrival, const RetryPolicy& policy) {
  return arrival + policy.max_lifetime.count();
}

std::optional<std::int64_t> delay_warning_time(std::int64_t arrival, const RetryPolicy& policy) {
  if (policy.delay_warning.count() <= 0) return std::nullopt;
  return arrival + policy.delay_warning.count();
}

std::string status_of_reply(std::string_view reply, AttemptOutcome outcome) {
  // RFC 5321 §4.2: Reply-code [ SP / "-" textstring ]; RFC 2034 §4: the enhanced code follows.
  if (reply.size() >= 3 && smtp::is_ascii_digit(reply[0]) && smtp::is_ascii_digit(reply[1]) &&
      smtp::is_ascii_digit(reply[2]) && (reply.size() == 3 || reply[3] == ' ' || reply[3] == '-')) {
    const char cls = reply[0];
    if (cls == '2' || cls == '4' || cls == '5') {
      const std::string_view rest = reply.size() > 4 ? reply.substr(4) : std::string_view{};
      const std::size_t n = enhanced_code_length(rest);
      // RFC 3463 §2: the class of the enhanced code must agree with the reply code's.
      if (n > 0 && rest[0] == cls) return std::string(rest.substr(0, n));
      return std::string(1, cls) + ".0.0";
    }
  }
  return default_status(outcome);
}

Decision expire(const AttemptFacts& facts, std::string_view last_reply) {
  Decision d;
  d.state = RecipientState::Failed;
  d.expired = true;
  // RFC 3463 X.4.7: delivery time expired. The class is 4: the last problem was temporary; the
  // Action ("failed") says it was given up.
  d.status = "4.4.7";
  d.diagnostic = std::string(last_reply);
  d.notice = notice_for(facts, DsnAction::Failed);
  return d;
}

Decision decide_after_attempt(const AttemptFacts& facts, const AttemptResult& result,
                              const RetryPolicy& policy, double random01) {
  switch (result.outcome) {
    case AttemptOutcome::Accepted: {
      Decision d;
      d.state = RecipientState::Delivered;
      d.status =
          result.status.empty() ? status_of_reply(result.reply, result.outcome) : result.status;
      d.diagnostic = result.reply;
      // RFC 3461 §5.2.2: a server with DSN takes over the duty to report success; we report only
      // what ends here (delivered) or where the duty cannot travel on (relayed).
      if (result.handoff == Handoff::Delivered) d.notice = notice_for(facts, DsnAction::Delivered);
      if (result.handoff == Handoff::Relayed) d.notice = notice_for(facts, DsnAction::Relayed);
      return d;
    }
    case AttemptOutcome::Failed: {
      Decision d;
      d.state = RecipientState::Failed;
      d.status =
          result.status.empty() ? status_of_reply(result.reply, result.outcome) : result.status;
      d.diagnostic = result.reply;
      d.notice = notice_for(facts, DsnAction::Failed);
      return d;
    }
    case AttemptOutcome::Deferred:
    case AttemptOutcome::Unknown:
      break;
  }

  const std::int64_t deadline = lifetime_deadline(facts.arrival, policy);
  if (facts.now >= deadline) return expire(facts, result.reply);

  Decision d;
  d.status = result.status.empty() ? status_of_reply(result.reply, result.outcome) : result.status;
  d.diagnostic = result.reply;
  d.state = facts.delay_warning_sent ? RecipientState::DelayNotified : RecipientState::Deferred;
  // Never later than the deadline: the last attempt is made at the deadline itself.
  d.next_attempt =
      std::min(facts.now + next_retry(facts.attempts, policy, random01).count(), deadline);

  const auto warn_at = delay_warning_time(facts.arrival, policy);
  const bool warning_pending =
      warn_at && !facts.delay_warning_sent && notice_for(facts, DsnAction::Delayed).has_value();
  if (warning_pending) {
    if (facts.now >= *warn_at) {
      d.notice = DsnAction::Delayed;
      d.state = RecipientState::DelayNotified;
    } else if (d.next_attempt > *warn_at) {
      // Try again when the warning falls due: if it goes, it reports a fresh attempt, not one
      // from an hour ago, and if that attempt succeeds no warning is needed at all.
      d.next_attempt = *warn_at;
    }
  }
  return d;
}

DestinationState::DestinationState(const DestinationPolicy& policy) : policy_(policy) {
  policy_.max_concurrency = std::max<std::uint32_t>(policy_.max_concurrency, 1);
  policy_.initial_concurrency =
      std::clamp<std::uint32_t>(policy_.initial_concurrency, 1, policy_.max_concurrency);
  limit_ = policy_.initial_concurrency;
}

void DestinationState::set_policy(const DestinationPolicy& policy) {
  policy_ = policy;
  policy_.max_concurrency = std::max<std::uint32_t>(policy_.max_concurrency, 1);
  policy_.initial_concurrency =
      std::clamp<std::uint32_t>(policy_.initial_concurrency, 1, policy_.max_concurrency);
  limit_ = std::min(limit_, policy_.max_concurrency);
}

bool DestinationState::may_connect(std::int64_t now, std::uint32_t active_connections) const {
  return !held(now) && active_connections < limit_;
}

std::int64_t DestinationState::connection_failed(std::int64_t now, double random01) {
  // Connections opened before the hold, failing one after the other, are one failure: counting
  // each would stretch the hold by the destination's concurrency.
  if (held(now)) return held_until_;
  ++failures_;
  successes_ = 0;
  // Multiplicative decrease: a destination refusing connections may be overloaded.
  limit_ = std::max<std::uint32_t>(limit_ / 2, 1);
  held_until_ = now + next_retry(failures_, policy_.retry, random01).count();
  return held_until_;
}

void DestinationState::recovered() {
  // The failures were an outage, not overload: what waited for it is drained at full speed.
  if (failures_ > 0) limit_ = std::max(limit_, policy_.initial_concurrency);
  failures_ = 0;
  held_until_ = 0;
}

void DestinationState::delivered() {
  recovered();
  const std::uint32_t step = policy_.successes_per_step > 0 ? policy_.successes_per_step : limit_;
  if (++successes_ >= step) {
    successes_ = 0;
    if (limit_ < policy_.max_concurrency) ++limit_;
  }
}

void DestinationState::answered() {
  recovered();
}

}  // namespace taube::queue
