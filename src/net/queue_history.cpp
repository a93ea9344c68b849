// QueueRunner, the delivery history's side (store/delivery_history.hpp, docs/console.md
// "Deliveries"): when a recipient finishes (sent, bounced, expired, deleted by the
// administrator) one record with its attempts goes into the history; while it is still queued
// each attempt is appended to the item's attempts file, so that the story survives a restart.
// Everything here runs in the commit's job on the worker pool, never on the event loop, and a
// failure only costs history (one warning), never mail.
#include <asio/post.hpp>

#include "net/queue_runner.hpp"
#include "queue/listing.hpp"

namespace taube::net {

namespace {

// Enough of a message to find its Message-ID in the header section.
constexpr std::size_t kHeaderRead = 64 * 1024;

std::string sender_of(const queue::QueueEnvelope& env) {
  return env.sender.null ? std::string() : env.sender.mailbox.to_string();
}

store::DeliveryRecord base_record(const std::string& name, const queue::QueueEnvelope& env,
                                  std::size_t index, std::int64_t t,
                                  const std::string& message_id) {
  const auto& q = env.recipients[index];
  store::DeliveryRecord rec;
  rec.time = t;
  rec.queue_id = env.id;
  rec.queue_file = name;
  rec.message_id = message_id;
  rec.sender = sender_of(env);
  rec.recipient = q.mailbox.to_string();
  rec.original = q.original;
  rec.arrival = env.arrival;
  return rec;
}

// The earlier attempts of recipient `index`, oldest first.
std::vector<store::AttemptRecord> earlier(const std::vector<store::IndexedAttempt>& all,
                                          std::size_t index) {
  std::vector<store::AttemptRecord> out;
  for (const auto& a : all)
    if (a.rcpt == index) out.push_back(a.attempt);
  return out;
}

}  // namespace

void QueueRunner::open_history() {
  if (cfg_.history_size == 0) return;
  auto h =
      std::make_unique<store::DeliveryHistory>(store_.directory() + "/history", cfg_.history_size);
  // Attempts files of items long gone (a crash between a record and the removal): older than
  // any item can live.
  const std::int64_t stale = now() - cfg_.retry.max_lifetime.count() - 86400;
  if (auto r = h->open(stale); !r) {
    observer_.queue_note({"", "warning: no delivery history: " + r.error(), true});
    return;
  }
  history_ = std::move(h);
}

void QueueRunner::record_history(const std::string& name, const queue::QueueEnvelope& env,
                                 const queue::AppliedAttempt& applied, const AttemptFacts& facts,
                                 const std::string* content, std::int64_t t) {
  if (!history_) return;
  std::vector<store::IndexedAttempt> still_queued;
  std::vector<std::size_t> final_rcpts;
  std::vector<store::AttemptRecord> this_attempt(env.recipients.size());
  bool read_earlier = false;
  for (const auto& r : applied.recipients) {
    if (r.index >= env.recipients.size()) continue;
    const auto& q = env.recipients[r.index];
    store::AttemptRecord a;
    a.time = t;
    a.host = facts.host;
    a.address = facts.address;
    a.reply = r.reply;
    a.seconds = facts.seconds;
    a.tls = facts.tls;
    a.status = queue::to_string(r.status);
    this_attempt[r.index] = a;
    if (r.status == queue::LoggedStatus::Deferred) {
      if (facts.attempted) still_queued.push_back({r.index, std::move(a)});
      continue;
    }
    final_rcpts.push_back(r.index);
    // An attempt counted before this one left a line in the attempts file.
    if (q.attempts > (facts.attempted ? 1u : 0u)) read_earlier = true;
  }
  bool ok = true;
  if (!final_rcpts.empty()) {
    std::string message_id;
    if (content) {
      message_id = store::message_id_of(queue::header_section(*content));
    } else {
      message_id = message_id_in(name);
    }
    const auto all =
        read_earlier ? history_->attempts_of(name) : std::vector<store::IndexedAttempt>();
    std::vector<store::DeliveryRecord> records;
    for (const auto& r : applied.recipients) {
      if (r.index >= env.recipients.size() || r.status == queue::LoggedStatus::Deferred) continue;
      auto rec = base_record(name, env, r.index, t, message_id);
      rec.status = queue::to_string(r.status);
      rec.dsn = r.decision.status.empty()
                    ? queue::status_of_reply(r.reply, queue::AttemptOutcome::Deferred)
                    : r.decision.status;
      rec.reply = r.reply;
      rec.relay = r.relay.empty() ? "none" : r.relay;
      rec.attempts = earlier(all, r.index);
      if (facts.attempted) rec.attempts.push_back(this_attempt[r.index]);
      records.push_back(std::move(rec));
    }
    ok = history_->append(records);
  }
  if (applied.finished) {
    bool any_earlier = false;
    for (const auto& q : env.recipients)
      if (q.attempts > (facts.attempted ? 1u : 0u)) any_earlier = true;
    if (any_earlier) history_->forget_attempts(name);
  } else if (!still_queued.empty()) {
    ok = history_->add_attempts(name, still_queued) && ok;
  }
  if (!ok && !history_warned_.exchange(true)) {
    asio::post(io_, [this] {
      observer_.queue_note({"",
                            "warning: cannot write the delivery history in " + store_.directory() +
                                "/history (once; mail is not affected)",
                            true});
    });
  }
}

std::string QueueRunner::message_id_in(const std::string& name) {
  auto m = store_.read_message(name, kHeaderRead);
  return m ? store::message_id_of(queue::header_section(*m)) : std::string();
}

void QueueRunner::record_deleted(const std::string& name, const queue::QueueEnvelope& env,
                                 std::int64_t t, const std::string& message_id) {
  if (!history_) return;
  const auto all = history_->attempts_of(name);
  std::vector<store::DeliveryRecord> records;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& q = env.recipients[i];
    if (!queue::is_queued(q.state)) continue;
    auto rec = base_record(name, env, i, t, message_id);
    rec.status = "deleted";
    rec.reply = "deleted by the administrator";
    if (!q.last_reply.empty()) rec.reply += " (last reply: " + q.last_reply + ")";
    rec.relay = "none";
    rec.attempts = earlier(all, i);
    records.push_back(std::move(rec));
  }
  history_->append(records);
  history_->forget_attempts(name);
}

}  // namespace taube::net
