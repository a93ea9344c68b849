#include "queue/attempt.hpp"

#include <algorithm>

namespace taube::queue {
namespace {

AttemptFacts facts_for(const QueueEnvelope& env, const QueuedRecipient& r, std::int64_t now) {
  AttemptFacts f;
  f.arrival = env.arrival;
  f.now = now;
  f.attempts = r.attempts;
  f.notify = r.params.notify;
  f.delay_warning_sent = r.state == RecipientState::DelayNotified;
  f.null_sender = env.sender.null;
  return f;
}

LoggedStatus logged(const Decision& d) {
  switch (d.state) {
    case RecipientState::Delivered:
      return LoggedStatus::Sent;
    case RecipientState::Failed:
      return d.expired ? LoggedStatus::Expired : LoggedStatus::Bounced;
    default:
      return LoggedStatus::Deferred;
  }
}

void apply(QueueEnvelope& env, std::size_t index, const Decision& d, const std::string& route,
           const std::string& remote_mta, std::int64_t now, const std::string& reply,
           AppliedAttempt& out, const std::string& relay) {
  auto& r = env.recipients[index];
  r.state = d.state;
  r.next_attempt = d.next_attempt;
  if (!route.empty()) r.route = route;
  r.last_reply = d.diagnostic.empty() ? reply : d.diagnostic;
  if (d.notice) {
    RecipientEvent e;
    e.recipient = index;
    e.action = *d.notice;
    e.status = d.status;
    e.remote_mta = remote_mta;
    e.diagnostic = r.last_reply;
    if (e.diagnostic.empty()) e.diagnostic_type.clear();
    // A reply from a server is an "smtp" diagnostic; a local reason ("connect to ...: refused")
    // is not a server's reply (RFC 3464 §2.3.6): "x-taube".
    if (!e.diagnostic.empty() && remote_mta.empty()) e.diagnostic_type = "x-taube";
    e.last_attempt = now;
    if (*d.notice == DsnAction::Delayed) e.will_retry_until = env.arrival;  // adjusted below
    out.notices.push_back(std::move(e));
  }
  out.recipients.push_back({index, logged(d), d, relay, r.last_reply});
}

void finish(QueueEnvelope& env, AppliedAttempt& out) {
  out.finished = std::none_of(env.recipients.begin(), env.recipients.end(),
                              [](const QueuedRecipient& r) { return is_queued(r.state); });
}

}  // namespace

const char* to_string(LoggedStatus s) {
  switch (s) {
    case LoggedStatus::Sent:
      return "sent";
    case LoggedStatus::Deferred:
      return "deferred";
    case LoggedStatus::Bounced:
      return "bounced";
    case LoggedStatus::Expired:
      return "expired";
  }
  return "deferred";
}

bool is_queued(RecipientState s) {
  return s == RecipientState::Pending || s == RecipientState::Deferred ||
         s == RecipientState::DelayNotified;
}

std::optional<std::int64_t> next_due(const QueueEnvelope& env) {
  std::optional<std::int64_t> due;
  for (const auto& r : env.recipients)
    if (is_queued(r.state) && (!due || r.next_attempt < *due)) due = r.next_attempt;
  return due;
}

AppliedAttempt apply_attempts(QueueEnvelope& env, std::span<const RecipientAttempt> attempts,
                              std::int64_t now, const RetryPolicy& policy,
                              const std::function<double()>& random01) {
  AppliedAttempt out;
  const std::int64_t deadline = lifetime_deadline(env.arrival, policy);
  for (const auto& a : attempts) {
    if (a.index >= env.recipients.size()) continue;
    auto& r = env.recipients[a.index];
    if (!is_queued(r.state)) continue;
    r.attempts += 1;
    const Decision d = decide_after_attempt(facts_for(env, r, now), a.result, policy, random01());
    apply(env, a.index, d, a.relay, a.remote_mta, now, a.result.reply, out, a.relay);
    if (!out.notices.empty() && out.notices.back().recipient == a.index &&
        out.notices.back().action == DsnAction::Delayed)
      out.notices.back().will_retry_until = deadline;
  }
  finish(env, out);
  return out;
}

AppliedAttempt expire_overdue(QueueEnvelope& env, std::int64_t now, const RetryPolicy& policy) {
  AppliedAttempt out;
  if (now < lifetime_deadline(env.arrival, policy)) return out;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    auto& r = env.recipients[i];
    if (!is_queued(r.state)) continue;
    const Decision d = expire(facts_for(env, r, now), r.last_reply);
    apply(env, i, d, "", "", now, r.last_reply, out, "none");
  }
  finish(env, out);
  return out;
}

AppliedAttempt expire_now(QueueEnvelope& env, std::int64_t now, std::string_view why) {
  AppliedAttempt out;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    auto& r = env.recipients[i];
    if (!is_queued(r.state)) continue;
    const std::string reply =
        r.last_reply.empty() ? std::string(why) : std::string(why) + "; last: " + r.last_reply;
    const Decision d = expire(facts_for(env, r, now), reply);
    apply(env, i, d, "", "", now, reply, out, "none");
  }
  finish(env, out);
  return out;
}

}  // namespace taube::queue
