// QueueRunner, second half: one transaction on an open connection, its results applied to the
// item (queue::apply_attempts), the notices filed, the envelope written back, the log events.
// Scheduling and connections are in queue_runner.cpp.
#include "net/queue_runner.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>

#include "net/blocking_pool.hpp"
#include "net/queue_id.hpp"
#include "queue/dsn.hpp"
#include "queue/transcript_log.hpp"
#include "smtp/wire/trace.hpp"

namespace taube::net {

using queue::AttemptOutcome;
using queue::RecipientAttempt;

namespace {

AttemptOutcome outcome_of(smtp::client::Outcome o) {
  switch (o) {
    case smtp::client::Outcome::Accepted:
      return AttemptOutcome::Accepted;
    case smtp::client::Outcome::Failed:
      return AttemptOutcome::Failed;
    case smtp::client::Outcome::Unknown:
      return AttemptOutcome::Unknown;
    case smtp::client::Outcome::Deferred:
      break;
  }
  return AttemptOutcome::Deferred;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

const char* notice_text(queue::DsnAction a) {
  switch (a) {
    case queue::DsnAction::Failed:
      return "sender non-delivery notification";
    case queue::DsnAction::Delayed:
      return "sender delay notification";
    default:
      return "sender delivery status notification";
  }
}

// A message above this size is streamed from its queue file instead of read whole.
constexpr std::uint64_t kStreamAbove = 1024 * 1024;
constexpr std::size_t kStreamPiece = 256 * 1024;

// Whether a queue file holds an octet >= 0x80 (read in pieces; on the pool).
bool has_eight_bit(const store::MessageFile& f) {
  for (std::uint64_t off = 0; off < f.size(); off += kStreamPiece) {
    auto piece = f.read(off, kStreamPiece);
    if (!piece) return false;  // the sending reads it again and reports the error
    if (std::any_of(piece->begin(), piece->end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
      return true;
    if (piece->size() < kStreamPiece) break;
  }
  return false;
}

// A large message's queue file as the connection's content, a piece at a time from the pool.
class FileContent final : public OutboundConnection::ContentSource {
 public:
  FileContent(asio::thread_pool& pool, const store::MessageFile& file) : pool_(pool), file_(file) {}
  asio::awaitable<std::optional<std::string>> next() override {
    if (offset_ >= file_.size()) co_return std::string();
    auto read = [this] { return file_.read(offset_, kStreamPiece); };
    auto piece = co_await run_blocking(pool_, read);
    if (!piece || piece->empty()) co_return std::nullopt;  // an error, or the file shrank
    offset_ += piece->size();
    co_return std::move(*piece);
  }

 private:
  asio::thread_pool& pool_;
  const store::MessageFile& file_;
  std::uint64_t offset_ = 0;
};

}  // namespace

asio::awaitable<void> QueueRunner::transact(Item& item, const std::vector<std::size_t>& rcpts,
                                            OutboundConnection& conn, double setup_seconds) {
  const std::string name = item.name;
  // The submitted copy for a first attempt; otherwise the queue file: read whole when small,
  // streamed when large.
  std::shared_ptr<const std::string> content = item.content;
  std::optional<store::MessageFile> large;
  if (!content) {
    auto open = [this, &name] { return store_.open_large_message(name, kStreamAbove); };
    auto opened = co_await run_blocking(pool_, open);
    if (opened && *opened) large.emplace(std::move(**opened));
  }
  if (!content && !large) {
    auto read = [this, &name] { return store_.read_message(name); };
    auto file = co_await run_blocking(pool_, read);
    if (!file) {
      const std::string why =
          "451 4.3.0 cannot read the queue file: " + std::string(store::to_string(file.error()));
      const std::string no_relay = "none";
      const AttemptOutcome deferred = AttemptOutcome::Deferred;
      co_await fail_all(item, rcpts, deferred, why, no_relay);
      co_return;
    }
    content = std::make_shared<const std::string>(std::move(*file));
  }
  smtp::client::OutboundMessage msg;
  msg.sender = item.env.sender;
  msg.params = item.env.params;
  msg.params.size = large ? large->size() : content->size();
  for (auto i : rcpts)
    msg.recipients.push_back({item.env.recipients[i].mailbox, item.env.recipients[i].params});
  // RFC 6152 §3: 8-bit content for a server without 8BITMIME must be converted or returned.
  // Taube does not convert (yet): such mail fails with 5.6.3 rather than going out 8-bit.
  bool eight_bit = false;
  if (!conn.session().extensions().eight_bit_mime()) {
    if (large) {
      auto scan = [&large] { return has_eight_bit(*large); };
      eight_bit = co_await run_blocking(pool_, scan);
    } else {
      eight_bit = std::any_of(content->begin(), content->end(),
                              [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    }
  }
  if (eight_bit) {
    const std::string why =
        "554 5.6.3 " + conn.target().relay() +
        " does not accept 8-bit content (no 8BITMIME) and conversion is not supported";
    const std::string relay = conn.target().relay();
    const AttemptOutcome failed = AttemptOutcome::Failed;
    note_outcome(queue::route_for(item.env.recipients[rcpts[0]].mailbox.domain, cfg_.routing).key(),
                 queue::AttemptKind::Bounced, rcpts.size(), why);
    co_await fail_all(item, rcpts, failed, why, relay);
    co_return;
  }
  // The mark that lets the next start tell a possible duplicate (queue/inflight.hpp) if Taube
  // dies between the data going out and the result below being recorded.
  queue::InflightMark mark;
  mark.name = name;
  mark.relay = conn.target().relay();
  for (auto i : rcpts) mark.recipients.emplace_back(i, item.env.recipients[i].attempts);
  int ticket = -1;
  const std::function<void()> before_data = [&] {
    mark.time = now();
    ticket = store_.inflight().mark(mark);
  };
  const auto t0 = std::chrono::steady_clock::now();
  smtp::client::MessageResult result;
  if (large) {
    FileContent source(pool_, *large);
    result = co_await conn.send(msg, source, before_data);
  } else {
    result = co_await conn.send(msg, *content, before_data);
  }
  const double transmit = seconds_since(t0);
  std::vector<std::string> unknown;  // sent, but the connection was lost before the reply

  std::vector<RecipientAttempt> attempts;
  for (const auto& r : result.recipients) {
    if (r.index >= rcpts.size()) continue;
    RecipientAttempt a;
    a.index = rcpts[r.index];
    a.result.outcome = outcome_of(r.outcome);
    a.result.reply = r.reply;
    a.result.status = r.status;
    // An LMTP server is the final delivery (RFC 2033 §4.2: its 250 means the message is in the
    // mailbox): "delivered" in a success notice, as Postfix's lmtp reports it, unless the
    // server takes the DSN request on itself.
    const bool final_delivery = conn.dialect() == smtp::Dialect::Lmtp;
    a.result.handoff = result.dsn_passed_on ? queue::Handoff::PassedOn
                       : final_delivery     ? queue::Handoff::Delivered
                                            : queue::Handoff::Relayed;
    a.relay = conn.target().relay();
    // A reply Taube made itself (SIZE over the peer's limit, ...) names no remote MTA.
    a.remote_mta = r.local ? std::string() : conn.target().host;
    if (a.result.outcome == AttemptOutcome::Unknown)
      unknown.push_back(item.env.recipients[a.index].mailbox.to_string());
    attempts.push_back(std::move(a));
  }
  if (!unknown.empty()) {
    std::string who;
    for (const auto& u : unknown) who += (who.empty() ? "to=<" : ", to=<") + u + ">";
    observer_.queue_note({item.env.id,
                          "warning: possible duplicate: " + who +
                              ", relay=" + conn.target().relay() +
                              ": the connection ended after the end of data, before the reply; "
                              "the peer may have the message, it is sent again (RFC 5321 §6.1)",
                          true, "smtp"});
  }
  bool answered = false, delivered = false;
  for (const auto& a : attempts) {
    if (a.result.outcome == AttemptOutcome::Accepted) delivered = true;
    if (a.result.outcome != AttemptOutcome::Unknown) answered = true;
  }
  const std::string key =
      queue::route_for(item.env.recipients[rcpts[0]].mailbox.domain, cfg_.routing).key();
  auto& d = destinations_.at(key);
  // The destination's history (queue/destination_stats.hpp): per recipient, as the log's
  // status= lines; a break after the data (Unknown) is retried, so it counts as a deferral.
  std::array<std::size_t, queue::kAttemptKinds> outcomes{};
  std::string failure_text;
  for (const auto& a : attempts) {
    auto kind = queue::AttemptKind::Deferred;
    if (a.result.outcome == AttemptOutcome::Accepted) kind = queue::AttemptKind::Delivered;
    if (a.result.outcome == AttemptOutcome::Failed) kind = queue::AttemptKind::Bounced;
    ++outcomes[static_cast<std::size_t>(kind)];
    if (kind != queue::AttemptKind::Delivered && failure_text.empty())
      failure_text = a.result.reply;
  }
  for (std::size_t k = 0; k < queue::kAttemptKinds; ++k)
    note_outcome(key, static_cast<queue::AttemptKind>(k), outcomes[k], failure_text);
  if (delivered)
    d.state.delivered();
  else if (answered)
    d.state.answered();

  // The opening of the session and this message's dialog, never other messages' envelopes.
  std::string transcript = conn.transcript();

  auto updated = item.env;
  auto applied =
      queue::apply_attempts(updated, attempts, now(), cfg_.retry, [this] { return random01(); });
  const auto& target = conn.target();
  item.facts = {true, target.host,
                target.unix_path.empty() ? target.address.to_string() : target.unix_path,
                conn.tls(), setup_seconds + transmit};
  co_await commit_applied(item, updated, applied, transcript, setup_seconds, transmit);
  store_.inflight().recorded(ticket);
}

asio::awaitable<void> QueueRunner::fail_all(Item& item, const std::vector<std::size_t>& rcpts,
                                            AttemptOutcome outcome, const std::string& reply,
                                            const std::string& relay) {
  std::vector<RecipientAttempt> attempts;
  for (auto i : rcpts) {
    RecipientAttempt a;
    a.index = i;
    a.result.outcome = outcome;
    a.result.reply = reply;
    // A local reason ("connect to ...: Connection refused") carries no code: RFC 3463 X.4.1 "no
    // answer from host", as Postfix reports it. DNS failures come with their own code.
    if (reply.empty() || reply[0] < '2' || reply[0] > '5')
      a.result.status = outcome == AttemptOutcome::Failed ? "5.4.4" : "4.4.1";
    a.relay = relay;
    attempts.push_back(std::move(a));
  }
  // A local failure after the connection opened (unreadable file, 8-bit content) is an attempt
  // too; a failed connection came with its facts already (deliver()).
  if (!item.facts.attempted) {
    item.facts.attempted = true;
    if (!rcpts.empty())
      item.facts.host =
          queue::route_for(item.env.recipients[rcpts[0]].mailbox.domain, cfg_.routing).host;
  }
  auto updated = item.env;
  auto applied =
      queue::apply_attempts(updated, attempts, now(), cfg_.retry, [this] { return random01(); });
  const std::string no_transcript;
  const double zero = 0;
  co_await commit_applied(item, updated, applied, no_transcript, zero, zero);
}

asio::awaitable<void> QueueRunner::expire(Item& item) {
  auto updated = item.env;
  auto applied = queue::expire_overdue(updated, now(), cfg_.retry);
  const std::string no_transcript;
  const double zero = 0;
  co_await commit_applied(item, updated, applied, no_transcript, zero, zero);
}

asio::awaitable<void> QueueRunner::commit_applied(Item& item, queue::QueueEnvelope& updated,
                                                  queue::AppliedAttempt& applied,
                                                  const std::string& transcript,
                                                  double setup_seconds, double transmit_seconds) {
  const std::int64_t t = now();
  // The notice, if one is due: its recipient (the original sender) resolved like any recipient
  // of received mail, by the same policy, on this thread.
  std::vector<queue::RecipientReport> reports;
  store::MessageInfo notice;
  std::optional<queue::DsnAction> notice_kind;
  if (!applied.notices.empty()) {
    reports = queue::select_reports(updated, applied.notices);
    if (!reports.empty()) {
      notice_kind = reports.front().action;
      for (const auto& r : reports)
        if (r.action == queue::DsnAction::Failed) notice_kind = r.action;
      notice.queue_id = new_queue_id();
      notice.arrival = t;
      notice.envelope.sender.null = true;
      smtp::Recipient to;
      to.mailbox = updated.sender.mailbox;
      to.params.notify = smtp::NotifyNever;
      policy::ClientFacts self;
      self.address = *inet::IpAddress::parse("127.0.0.1");
      self.auth_user = "MAILER-DAEMON";  // Taube itself: may send anywhere
      auto v = recipients_->decide(self, to.mailbox);
      if (v.kind == smtp::RcptVerdictKind::Accept || v.kind == smtp::RcptVerdictKind::Forward) {
        to.destinations = v.destinations;
        notice.envelope.recipients.push_back(std::move(to));
      } else {
        observer_.queue_note({updated.id,
                              "warning: cannot send a notice to <" +
                                  updated.sender.mailbox.to_string() + ">: no such recipient",
                              true, "bounce"});
        reports.clear();
        notice_kind.reset();
      }
    }
  }
  const std::string name = item.name;
  const bool finished = applied.finished;
  const AttemptFacts facts = std::exchange(item.facts, AttemptFacts{});
  const std::shared_ptr<const std::string> content = item.content;
  std::string boundary = "=_taube_" + std::to_string(rng_()) + "_" + std::to_string(rng_());
  const std::string heading = queue::attempt_heading(
      t, applied.recipients.empty() ? std::string() : applied.recipients.front().relay);
  struct Outcome {
    std::string notice_error;
    std::optional<store::StoreError> store_error;
  };
  auto job = [&]() -> Outcome {
    Outcome o;
    if (!reports.empty()) {
      // One octet more than a DSN returns: a larger message is returned as its headers
      // (queue/dsn.hpp), and a 50 MB bounce is not read into memory for that.
      queue::DsnRequest req;
      auto original = store_.read_message(name, req.max_returned_content + 1);
      req.reporting_mta = hostname_;
      req.date = t;
      req.message_id = "<" + notice.queue_id + "@" + hostname_ + ">";
      req.boundary = boundary;
      req.reports = reports;
      auto dsn = queue::build_dsn(updated, req, original ? *original : std::string());
      if (!dsn) {
        o.notice_error = std::string(queue::describe(dsn.error()));
      } else {
        notice.envelope.mail_params.smtputf8 = dsn->smtputf8;
        notice.envelope.mail_params.body =
            dsn->eight_bit ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit;
        notice.envelope.mail_params.size = dsn->message.size();
        smtp::TraceInfo tr;
        tr.hostname = hostname_;
        tr.id = notice.queue_id;
        tr.date = rfc5322_date_now();
        std::string prefix = smtp::return_path_header(notice.envelope.sender) + "Received: by " +
                             hostname_ + " (Taube) id " + notice.queue_id + "; " + tr.date + "\n";
        auto w = notices_.begin(notice, prefix);
        w->append(dsn->message);
        auto out = w->commit(prefix);
        if (!out.ok()) o.notice_error = store::to_string(*out.first_error());
      }
    }
    // Only once the notice is durable does the envelope say the recipient was reported.
    if (!o.notice_error.empty()) return o;
    // Before the removal, which takes the message (and its Message-ID) with it.
    record_history(name, updated, applied, facts, content.get(), t);
    // The transcript answers "why is this still here": a finished item needs none.
    // Appended to the earlier attempts' (queue/transcript_log.hpp: the last five are kept).
    if (!transcript.empty() && !finished)
      store_.save_transcript(name,
                             queue::add_attempt(store_.read_transcript(name), heading, transcript));
    auto r = finished ? store_.remove(name) : store_.update(name, updated);
    if (!r) o.store_error = r.error();
    return o;
  };
  // The per-recipient lines first, as Postfix's smtp logs status=sent on the peer's reply
  // before qmgr updates the queue file: a crash while the state is written must not leave a
  // delivery that happened without its line (the item it removed would never be tried again).
  const double in_queue = std::max<double>(
      0, static_cast<double>(t - updated.arrival) - setup_seconds - transmit_seconds);
  for (const auto& r : applied.recipients) {
    const auto& q = updated.recipients[r.index];
    events::Delivery e;
    e.queue_id = updated.id;
    e.to = q.mailbox.to_string();
    e.orig_to = q.original;
    e.relay = r.relay.empty() ? "none" : r.relay;
    // The arrival time has whole seconds: within the same second the stages (measured to the
    // millisecond) are the better total, so that delay is never less than its delays= parts.
    e.delay = std::max(static_cast<double>(t - updated.arrival),
                       in_queue + setup_seconds + transmit_seconds);
    e.delays[1] = in_queue;
    e.delays[2] = setup_seconds;
    e.delays[3] = transmit_seconds;
    e.dsn = r.decision.status.empty() ? queue::status_of_reply(r.reply, AttemptOutcome::Deferred)
                                      : r.decision.status;
    e.status = queue::to_string(r.status);
    e.reply = r.reply;
    e.agent = queue::route_for(q.mailbox.domain, cfg_.routing).dialect == smtp::Dialect::Lmtp
                  ? "lmtp"
                  : "smtp";
    e.attempt = q.attempts;
    observer_.delivery(e);
  }
  Outcome o = co_await run_blocking(pool_, job);
  if (!o.notice_error.empty()) {
    // The notice could not be queued: the item keeps its old state and is tried again later
    // (a deferral of the notice, not a loss).
    observer_.queue_note(
        {updated.id, "warning: cannot queue a notice: " + o.notice_error, true, "bounce"});
    for (auto& r : item.env.recipients)
      if (queue::is_queued(r.state)) r.next_attempt = t + cfg_.retry.retry_min.count();
    done_with(item, false);
    co_return;
  }
  if (o.store_error)
    observer_.queue_note(
        {updated.id,
         std::string("warning: cannot update the queue file: ") + store::to_string(*o.store_error),
         true});
  if (notice_kind) {
    observer_.queue_note({updated.id,
                          std::string(notice_text(*notice_kind)) + ": " + notice.queue_id, false,
                          "bounce"});
    // A notice filed into a local Maildir is delivered now: its line like any local delivery
    // (one queued for a remote sender is logged when the queue delivers it).
    const auto& dests = notice.envelope.recipients.front().destinations;
    if (std::any_of(dests.begin(), dests.end(), [](const smtp::Destination& x) {
          return x.route == smtp::Destination::Route::Mailbox;
        })) {
      events::Delivery e;
      e.queue_id = notice.queue_id;
      e.to = updated.sender.mailbox.to_string();
      e.relay = "local";
      e.dsn = "2.0.0";
      e.status = "sent";
      e.reply = "delivered to maildir";
      observer_.delivery(e);
    }
  }
  item.env = std::move(updated);
  if (finished) observer_.queue_note({item.env.id, "removed"});
  done_with(item, finished);
}

void QueueRunner::done_with(Item& item, bool finished) {
  set_busy(item, false);
  if (item.content) {
    content_bytes_ -= item.content->size();
    item.content.reset();
  }
  if (finished) {
    const std::string name = item.name;
    items_.erase(name);  // `item` is gone after this line
    tidy_soon();
  } else {
    file(item);
  }
  schedule();
}

}  // namespace taube::net
