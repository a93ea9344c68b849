// Which recipients are reported, and the envelope of the report itself (RFC 3461 §4.1, §6.2).
#include <utility>

#include "queue/dsn.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::queue {

std::string_view to_string(DsnAction action) {
  switch (action) {
    case DsnAction::Failed:
      return "failed";
    case DsnAction::Delayed:
      return "delayed";
    case DsnAction::Delivered:
      return "delivered";
    case DsnAction::Relayed:
      return "relayed";
    case DsnAction::Expanded:
      return "expanded";
  }
  return "failed";
}

bool notice_wanted(unsigned notify, DsnAction action) {
  if (notify & smtp::NotifyNever) return false;
  if (notify == 0) return action == DsnAction::Failed || action == DsnAction::Delayed;
  switch (action) {
    case DsnAction::Failed:
      return (notify & smtp::NotifyFailure) != 0;
    case DsnAction::Delayed:
      return (notify & smtp::NotifyDelay) != 0;
    case DsnAction::Delivered:
    case DsnAction::Relayed:
    case DsnAction::Expanded:
      break;
  }
  return (notify & smtp::NotifySuccess) != 0;
}

std::vector<RecipientReport> select_reports(const QueueEnvelope& envelope,
                                            std::span<const RecipientEvent> events) {
  std::vector<RecipientReport> out;
  if (envelope.sender.null) return out;  // RFC 5321 §4.5.5
  for (const RecipientEvent& e : events) {
    if (e.recipient >= envelope.recipients.size()) continue;
    const QueuedRecipient& q = envelope.recipients[e.recipient];
    if (!notice_wanted(q.params.notify, e.action)) continue;
    RecipientReport r;
    r.final_recipient = q.mailbox.to_string();
    if (q.params.orcpt_type && q.params.orcpt_address) {
      r.original_type = *q.params.orcpt_type;
      r.original_address = *q.params.orcpt_address;
    }
    r.expanded_from = q.original;
    r.action = e.action;
    r.status = e.status;
    r.remote_mta = e.remote_mta;
    r.diagnostic_type = e.diagnostic_type;
    r.diagnostic = e.diagnostic;
    r.last_attempt = e.last_attempt;
    r.will_retry_until = e.will_retry_until;
    out.push_back(std::move(r));
  }
  return out;
}

QueueEnvelope dsn_envelope(const QueueEnvelope& original, const Dsn& dsn, std::string id,
                           std::int64_t arrival) {
  QueueEnvelope e;
  e.id = std::move(id);
  e.arrival = arrival;
  e.sender.null = true;  // RFC 3461 §6.2, RFC 5321 §4.5.5: a DSN is sent from <>
  e.params.size = dsn.message.size();
  e.params.body = dsn.eight_bit ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit;
  e.params.smtputf8 = dsn.smtputf8;
  QueuedRecipient r;
  r.mailbox = original.sender.mailbox;
  e.recipients.push_back(std::move(r));
  return e;
}

}  // namespace taube::queue
