// InboundConnection: a message on its way from the session to the message sink. The trace
// headers are the header prefix handed to the sink at commit (a header computed at the end of
// data, e.g. Authentication-Results, would go on top of them there).
#include <ctime>

#include "net/inbound_connection.hpp"
#include "net/queue_id.hpp"
#include "smtp/wire/trace.hpp"

namespace taube::net {

namespace {

std::string protocol_name(const smtp::ServerSession& s, bool smtputf8) {
  // RFC 3848 / RFC 6531 §3.7.3 / RFC 2033 §4.1 (LMTP).
  const auto& c = s.client();
  std::string p = s.dialect() == smtp::Dialect::Lmtp ? "LMTP"
                  : smtputf8                         ? "UTF8SMTP"
                  : c.esmtp                          ? "ESMTP"
                                                     : "SMTP";
  if (smtputf8 || c.esmtp) {
    if (c.tls) p += "S";
    if (!c.auth_user.empty()) p += "A";
  }
  return p;
}

}  // namespace

std::string InboundConnection::trace_headers(const smtp::Envelope& env) const {
  smtp::TraceInfo t;
  t.helo = session_.client().helo;
  t.client_ip = client_.to_string();
  t.hostname = ctx_.config.session.hostname;
  t.id = queue_id_;
  // RFC 5321 §7.2: name the recipient only when there is one (no disclosure of the others).
  if (env.recipients.size() == 1) t.for_rcpt = env.recipients.front().mailbox.to_string();
  t.date = rfc5322_date_now();
  t.esmtp = session_.client().esmtp;
  t.tls = session_.client().tls;
  t.tls_info = session_.client().tls_info;
  t.authenticated = !session_.client().auth_user.empty();
  t.auth_user = session_.client().auth_user;
  t.smtputf8 = env.mail_params.smtputf8;
  t.lmtp = session_.dialect() == smtp::Dialect::Lmtp;
  t.local_uid = peer_.uid;  // the submit socket: Postfix's pickup form
  return smtp::return_path_header(env.sender) + smtp::received_header(t);
}

void InboundConnection::begin_message(const smtp::Envelope& env) {
  queue_id_ = new_queue_id();
  tx_start_ = std::chrono::steady_clock::now();
  store::MessageInfo info;
  info.queue_id = queue_id_;
  info.arrival = static_cast<std::int64_t>(std::time(nullptr));
  info.envelope = env;
  info.auth_user = session_.client().auth_user;
  info.client_address = client_.to_string();
  info.client_helo = session_.client().helo;
  // SRS for forwarded copies (docs/outbound.md): the day is the arrival's.
  info.queue_sender = ctx_.policy.recipients().queue_sender(env, policy::srs_day(info.arrival));
  trace_ = trace_headers(env);
  message_.emplace(ctx_.pool, ctx_.sink.begin(info, trace_));
}

void InboundConnection::drop_message() {
  if (!message_) return;
  message_->abort();
  message_.reset();
}

asio::awaitable<void> InboundConnection::commit() {
  // Send what is queued (e.g. 250s for earlier BDAT chunks) while the disk works.
  co_await flush();
  const smtp::Envelope& env = session_.envelope();
  smtp::CommitResult result{smtp::CommitStatus::StorageError, queue_id_, {}};
  if (message_) {
    // The prefix is given at commit: the place for headers known only at the end of data
    // (none yet), on top of the trace headers made when the message began.
    const auto outcome = co_await message_->commit(trace_);
    message_.reset();
    auto status_of = [](std::optional<store::StoreError> e) {
      if (!e) return smtp::CommitStatus::Accepted;
      return *e == store::StoreError::NoSpace ? smtp::CommitStatus::StorageFull
                                              : smtp::CommitStatus::StorageError;
    };
    result.status = status_of(outcome.first_error());
    for (std::size_t i = 0; i < outcome.per_recipient.size(); ++i)
      result.per_recipient.push_back(status_of(outcome.for_recipient(i)));
  }
  events::Transaction t;
  t.peer = peer_;
  t.queue_id = queue_id_;
  t.from = env.sender.null ? "" : env.sender.mailbox.to_string();
  for (const auto& r : env.recipients) {
    const std::string addr = r.mailbox.to_string();
    t.to.push_back(addr);
    for (const auto& d : r.destinations) {
      if (d.route == smtp::Destination::Route::Queue) {
        t.relayed.push_back(d.target);
      } else if (t.mailboxes.empty() || t.mailboxes.back() != addr) {
        t.mailboxes.push_back(addr);
      }
    }
  }
  t.size = session_.message_size();
  t.helo = session_.client().helo;
  t.protocol = protocol_name(session_, env.mail_params.smtputf8);
  t.sasl_username = session_.client().auth_user;
  if (!t.sasl_username.empty()) t.sasl_method = session_.auth_request().mechanism;
  t.accepted = result.status == smtp::CommitStatus::Accepted;
  t.reply = smtp::commit_reply(result.status, queue_id_);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tx_start_).count();
  ctx_.observer.transaction(t);
  session_.commit_done(result);
}

}  // namespace taube::net
