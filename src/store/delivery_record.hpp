// DeliveryRecord: one finished delivery of one recipient (sent, bounced, expired, deleted by an
// operator) with the attempts that led to it, as the delivery history keeps it
// (delivery_history.hpp) and the web console shows it (docs/console.md "Deliveries").
//
// Its text form is one JSON object on one line (RFC 8259; "JSON lines"), so an operator can read
// the history with jq as well as through the console, and a line cut short by a crash simply
// fails to parse (decode_record returns nothing: the reader skips it). Pure: no I/O, no clock.
//
//   {"v": 1, "time": T, "status": "sent", "queue_id": "...", "queue_file": "...",
//    "message_id": "<...>", "sender": "a@b", "recipient": "c@d", "original": "", "arrival": T,
//    "dsn": "2.0.0", "reply": "250 ...", "relay": "host[ip]:port",
//    "attempts": [{"time": T, "host": "...", "address": "...", "reply": "...",
//                  "seconds": 0.123, "tls": true, "status": "deferred"}, ...]}
//
// An attempt line of an item still queued (the per-item attempts file) is the attempt object
// with "rcpt": N, the recipient's index in the envelope.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taube::store {

struct AttemptRecord {
  std::int64_t time = 0;  // unix seconds, when the attempt's result came
  std::string host;       // the destination host ("" when none was reached or named)
  std::string address;    // its IP address (or unix socket path); "" when no connection
  std::string reply;      // the remote reply or the local reason, one line
  double seconds = 0;     // how long the attempt took (connection set-up included if it had one)
  bool tls = false;       // the session ran over TLS
  std::string status;     // what it meant for the recipient: sent, deferred, bounced
  friend bool operator==(const AttemptRecord&, const AttemptRecord&) = default;
};

struct DeliveryRecord {
  std::int64_t time = 0;  // unix seconds, when it finished
  std::string status;     // sent, bounced, expired, deleted
  std::string queue_id, queue_file, message_id;
  std::string sender;  // "" for the null sender <>
  std::string recipient, original;
  std::int64_t arrival = 0;
  std::string dsn, reply, relay;
  std::vector<AttemptRecord> attempts;  // oldest first, at most kMaxAttempts
  friend bool operator==(const DeliveryRecord&, const DeliveryRecord&) = default;
};

// Attempts kept per recipient (the last ones): a message retried for five days keeps its story
// short.
constexpr std::size_t kMaxAttempts = 20;
// Free-text fields are cut to this many octets (a multi-line reply joined, a huge Message-ID).
constexpr std::size_t kMaxField = 1000;

// One line, with its '\n'.
std::string encode_record(const DeliveryRecord& r);
// Nothing when `line` is not a whole record (torn, or not ours).
std::optional<DeliveryRecord> decode_record(std::string_view line);
// The JSON object alone (the console's API answers with it).
std::string record_json(const DeliveryRecord& r);

std::string encode_attempt_line(std::size_t rcpt, const AttemptRecord& a);
struct IndexedAttempt {
  std::size_t rcpt = 0;
  AttemptRecord attempt;
};
std::optional<IndexedAttempt> decode_attempt_line(std::string_view line);

// What a search asks for: `text` a case-insensitive substring of the queue id, the queue file
// name, the Message-ID, the sender or the (original) recipient ("" matches all); `status` one
// of the statuses exactly ("" any); `queue_id` the queue id or queue file name exactly.
struct RecordQuery {
  std::string text, status, queue_id;
};
bool matches(const DeliveryRecord& r, const RecordQuery& q);
// A cheap test on the raw line before decoding: false only when the line cannot match.
bool may_match(std::string_view line, const RecordQuery& q);

// The Message-ID field's value of a header section (RFC 5322 §3.6.4; unfolded, trimmed), "" if
// none.
std::string message_id_of(std::string_view headers);

}  // namespace taube::store
