// Delivery status notifications (RFC 3464) in a multipart/report (RFC 6522), sent back to the
// original sender: which recipients are reported (RFC 3461 §4.1, NOTIFY), and the message itself.
// Pure: the date, the Message-ID and the MIME boundary are passed in.
//
// The message (Taube's stored form, LF line endings):
//   From: Mail Delivery System <MAILER-DAEMON@host>, To: the sender, Subject by the reports'
//   actions, Date, Message-ID, Auto-Submitted: auto-replied (RFC 3834 §5), MIME-Version,
//   Content-Type: multipart/report; report-type=delivery-status; boundary="..."
//   1. text/plain: what happened, recipient by recipient, with the remote reply;
//   2. message/delivery-status: Reporting-MTA, Original-Envelope-Id (ENVID given), Arrival-Date,
//      then per recipient Original-Recipient (ORCPT given), Final-Recipient, Action, Status,
//      Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until;
//   3. the original: text/rfc822-headers (RET=HDRS, no RET, every notice but a failure, or a
//      message too large or with lines over 998 octets to return whole), else message/rfc822.
// For SMTPUTF8 mail (RFC 6533 §6): report-type=global-delivery-status,
// message/global-delivery-status (UTF-8 addresses and diagnostics kept), and message/global-headers
// or message/global; the text part is charset=utf-8. In every other DSN the report fields are
// 7-bit (RFC 3464 §2.1): non-ASCII octets of replies become '?', a non-ASCII address is written
// as "utf-8; " utf-8-addr-xtext (RFC 6533 §3).
//
// Nothing from outside can break the structure: every value is cleaned (mail_text.hpp) and folded
// (no CR, no LF, no line over 998 octets), and a boundary that occurs anywhere in the content is
// refused (the caller draws another).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "queue/envelope.hpp"

namespace taube::queue {

// RFC 3464 §2.3.3.
enum class DsnAction { Failed, Delayed, Delivered, Relayed, Expanded };
std::string_view to_string(DsnAction action);  // "failed", "delayed", ...

// RFC 3461 §4.1: whether a recipient with these NOTIFY flags is due a notice of this kind.
//  * NEVER: none.
//  * NOTIFY given: failed needs FAILURE, delayed needs DELAY, delivered/relayed/expanded need
//    SUCCESS.
//  * NOTIFY not given (0): failed and delayed ("FAILURE,DELAY" is the MTA's choice; Taube warns
//    of delays by default), never a success notice.
bool notice_wanted(unsigned notify, DsnAction action);

struct RecipientReport {
  std::string final_recipient;   // the address delivered to, "bob@remote.test"
  std::string original_type;     // ORCPT addr-type ("rfc822", "utf-8"); empty: no ORCPT given
  std::string original_address;  // ORCPT address, decoded
  std::string expanded_from;     // the address the client gave, when an alias led here (text only)
  DsnAction action = DsnAction::Failed;
  std::string status;                    // RFC 3463 "5.1.1"; required
  std::string remote_mta;                // host name, written "dns; <host>"; empty: none
  std::string diagnostic_type = "smtp";  // RFC 3464 §2.3.6 diagnostic-type
  std::string diagnostic;                // "550 5.1.1 <bob@remote.test>: user unknown"; empty: none
  std::optional<std::int64_t> last_attempt;      // unix seconds
  std::optional<std::int64_t> will_retry_until;  // unix seconds, for delayed
};

// What happened to one recipient of the envelope, for select_reports.
struct RecipientEvent {
  std::size_t recipient = 0;  // index into QueueEnvelope::recipients
  DsnAction action = DsnAction::Failed;
  std::string status, remote_mta;
  std::string diagnostic_type = "smtp";
  std::string diagnostic;
  std::optional<std::int64_t> last_attempt, will_retry_until;
};

// The reports to send for these events: none when the sender is <>, and only the events whose
// recipient's NOTIFY wants them (notice_wanted), addresses filled in from the envelope. Events with
// an index outside the envelope are skipped.
std::vector<RecipientReport> select_reports(const QueueEnvelope& envelope,
                                            std::span<const RecipientEvent> events);

// Above this, a RET=FULL message is returned as headers only (the text part says so).
inline constexpr std::size_t kDefaultMaxReturnedContent = 1024 * 1024;
// Each free-text value (diagnostic, address) is cut at this many octets before folding.
inline constexpr std::size_t kMaxReportValue = 4096;

struct DsnRequest {
  std::string reporting_mta;  // our host name: Reporting-MTA, From: MAILER-DAEMON@<it>
  std::int64_t date = 0;      // when the DSN is made (Date:), unix seconds
  std::string message_id;     // "<id@host>"
  std::string boundary;  // 1-70 bchars of RFC 2046 §5.1.1 without the space; draw it at random
  std::vector<RecipientReport> reports;
  std::size_t max_returned_content = kDefaultMaxReturnedContent;
};

struct Dsn {
  std::string message;        // LF line endings
  bool global = false;        // message/global-* parts (the original was SMTPUTF8 mail)
  bool smtputf8 = false;      // its top-level header holds UTF-8: send it with SMTPUTF8
  bool eight_bit = false;     // it holds non-ASCII octets: send it with BODY=8BITMIME
  bool full_content = false;  // the original was returned whole
};

enum class DsnError {
  NullSender,         // the sender is <>: no DSN of a DSN (RFC 5321 §4.5.5)
  NoReports,          // nothing to report
  BadStatus,          // a report's status is not "d.ddd.ddd" with class 2, 4 or 5 (RFC 3463)
  BadHostname,        // reporting_mta not 1-255 letters, digits, "-", "_", "."
  BadMessageId,       // message_id not "<...>" of printable ASCII without spaces
  BadBoundary,        // not 1-70 bchars (RFC 2046 §5.1.1) without the space
  BoundaryInContent,  // the boundary occurs in a part: draw another one
};
std::string_view describe(DsnError error);

// Builds the DSN for `envelope` (sender, ENVID, RET, SMTPUTF8, arrival) from `request`. `original`
// is the original message in stored form (LF line endings): its header block is everything up to
// the first empty line (all of it when there is none); the whole of it is returned for RET=FULL
// when a report is a failure, it is at most max_returned_content octets and no line is over 998
// octets. CR octets in it are dropped.
tl::expected<Dsn, DsnError> build_dsn(const QueueEnvelope& envelope, const DsnRequest& request,
                                      std::string_view original);

// The envelope of the DSN itself: from <>, to the original sender, SMTPUTF8 and BODY as the DSN
// needs, SIZE its size, no NOTIFY (a message from <> gets no DSN anyway).
QueueEnvelope dsn_envelope(const QueueEnvelope& original, const Dsn& dsn, std::string id,
                           std::int64_t arrival);

}  // namespace taube::queue
