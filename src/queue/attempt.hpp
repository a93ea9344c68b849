// What one delivery attempt changes in a queue item: the pure step between the SMTP client's
// per-recipient results and the envelope written back to disk. For each attempted recipient the
// schedule decides (schedule.hpp: delivered, failed, deferred until when, which notice is due);
// this applies the decision to the envelope and collects the notices for the DSN builder, so the
// queue runner only does I/O: build and queue the DSN, then write the envelope (practice 18:
// the bounce is durable before the recipient it reports is marked failed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "queue/dsn.hpp"
#include "queue/envelope.hpp"
#include "queue/schedule.hpp"

namespace taube::queue {

struct RecipientAttempt {
  std::size_t index = 0;  // into QueueEnvelope::recipients
  AttemptResult result;
  std::string relay;       // "mx.remote.test[192.0.2.1]:25", or "none" when no connection was made
  std::string remote_mta;  // the host name for the DSN's Remote-MTA ("" when none)
};

// Postfix's status words for the log line: sent, deferred, bounced, expired.
enum class LoggedStatus { Sent, Deferred, Bounced, Expired };
const char* to_string(LoggedStatus s);

struct AppliedRecipient {
  std::size_t index = 0;
  LoggedStatus status = LoggedStatus::Deferred;
  Decision decision;
  std::string relay;
  std::string reply;  // what the log line shows in parentheses
};

struct AppliedAttempt {
  std::vector<AppliedRecipient> recipients;
  std::vector<RecipientEvent> notices;  // for select_reports() (NOTIFY is applied there)
  bool finished = false;                // every recipient is Delivered or Failed
};

// Applies the attempts to `env` (state, attempts, next attempt, last reply, route). `random01`
// gives the jitter draws.
AppliedAttempt apply_attempts(QueueEnvelope& env, std::span<const RecipientAttempt> attempts,
                              std::int64_t now, const RetryPolicy& policy,
                              const std::function<double()>& random01);

// Recipients still queued whose lifetime ended without an attempt (their destination was held
// back, or Taube was not running): expired, with their last reply as the diagnostic.
AppliedAttempt expire_overdue(QueueEnvelope& env, std::int64_t now, const RetryPolicy& policy);
// Every recipient still queued expires now, whatever its lifetime (the administrator's
// "taube queue bounce", Postfix's postsuper -e): `why` joins the last reply in the diagnostic.
AppliedAttempt expire_now(QueueEnvelope& env, std::int64_t now, std::string_view why);

// Pending or deferred.
bool is_queued(RecipientState s);
// The earliest next attempt among the queued recipients, or nullopt when none is queued.
std::optional<std::int64_t> next_due(const QueueEnvelope& env);

}  // namespace taube::queue
