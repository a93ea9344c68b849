// What ServerSession asks of the outside, and the typed answers it takes. Policy (src/policy)
// decides a verdict *kind*; the session alone maps kinds to replies from the reply table, so a
// new check adds a kind and a table entry, never a reply text in the I/O layer
// (ARCHITECTURE.md practice 17).
#pragma once

#include <string>
#include <vector>

#include "smtp/wire/address.hpp"
#include "smtp/wire/envelope.hpp"
#include "smtp/wire/esmtp_params.hpp"
#include "smtp/wire/reply.hpp"

namespace taube::smtp {

// MAIL FROM (RFC 5321 §4.1.1.2). Every MAIL pauses for one, so that sender checks (restrict_sender
// today, SPF later) need no second code path for unauthenticated clients.
struct MailRequest {
  Path sender;
  MailParams params;
};

enum class MailVerdict {
  Accept,    // 250 2.1.0
  NotOwned,  // 553 5.7.1: an authenticated user sending as someone else (RFC 4954 §5)
  TempFail,  // 451 4.3.0: the check could not be made now
  Rejected,  // 550 5.7.1: refused by local policy
};

// RCPT TO (RFC 5321 §4.1.1.3).
struct RcptRequest {
  Mailbox mailbox;
  RcptParams params;
};

enum class RcptVerdictKind {
  Accept,       // 250 2.1.5
  Forward,      // 251 2.1.5 User not local; will forward to <forward_to> (RFC 5321 §3.4)
  UserUnknown,  // 550 5.1.1
  RelayDenied,  // 554 5.7.1 (RFC 5321 §3.6.2: never an open relay)
  TempFail,     // 451 4.3.0 (RFC 5321 §4.2.3)
  // An SRS bounce address (policy/srs.hpp) at the SRS domain that does not verify, or is too old:
  // refused at RCPT, so a forged bounce is never accepted and bounced again (no backscatter).
  SrsInvalid,  // 550 5.1.1 invalid SRS address
  SrsExpired,  // 550 5.1.1 SRS address expired
};

struct RcptVerdict {
  RcptVerdictKind kind = RcptVerdictKind::TempFail;
  std::vector<Destination> destinations;  // Accept / Forward: at least one
  std::string forward_to;                 // Forward: the address shown in the 251
};

// VRFY and EXPN (RFC 5321 §3.5). A bare name without '@' has an empty domain: policy picks one.
struct AddressRequest {
  Mailbox mailbox;
  std::string raw;  // the argument as sent
};

enum class AddressVerdictKind {
  Found,         // VRFY: 250 <addresses[0]>; EXPN: 250 with one line per address
  Unknown,       // 550 5.1.1
  CannotVerify,  // 252 2.5.2 (RFC 5321 §3.5.3)
};

struct AddressVerdict {
  AddressVerdictKind kind = AddressVerdictKind::CannotVerify;
  std::vector<std::string> addresses;
};

// End of data: what the message sink made of the message.
enum class CommitStatus {
  Accepted,      // 250 2.0.0 Ok: queued as <id>
  StorageError,  // 451 4.3.0
  StorageFull,   // 452 4.3.1
  LoopDetected,  // 554 5.4.6 (RFC 5321 §6.3: too many Received headers)
};

struct CommitResult {
  CommitStatus status = CommitStatus::StorageError;
  std::string queue_id;
  // LMTP (RFC 2033 §4.2) answers once per accepted recipient: the status of each, in RCPT order.
  // Empty: `status` for every recipient (always the case for SMTP, which has one reply).
  std::vector<CommitStatus> per_recipient;
};

// The reply the session gives for a commit status (SMTP; LMTP puts "<recipient> " in front).
Reply commit_reply(CommitStatus status, const std::string& queue_id);

}  // namespace taube::smtp
