// What `taube queue` shows about queued items (docs/queue-control.md): pure formatting of queue
// envelopes, shared by the control socket (and the web console later), so that every view says
// the same thing.
//
//   list   mailq's layout (Postfix's showq): one block per message, "-Queue ID-  --Size--
//          ----Arrival Time---- -Sender/Recipient-------", a "*" after the id of a message
//          being delivered, "!" when on hold, the last reason in parentheses before each
//          recipient still queued, and a "-- N Kbytes in M Requests." trailer.
//   json   postqueue -j: one JSON object per message and line, with queue_name, queue_id,
//          arrival_time, message_size, forced_expire, sender, recipients[{address,
//          delay_reason}] (Postfix's field names), plus Taube's own: next_attempt, attempts.
//   show   the envelope, every recipient's state, next attempt and last reply, and the SMTP
//          transcript of the last attempt.
//   why    one paragraph: what was tried, what the remote said, what happens next.
//   page   the web console's queue table (docs/console.md): the same listing filtered by
//          sender, recipient, domain and queue name, then one page of it; json_item() is one
//          item with every recipient's state for the console's API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/envelope.hpp"

namespace taube::queue {

// One item as the runner knows it.
struct ListedItem {
  std::string name;               // the queue file's name
  QueueEnvelope envelope;         // its current state
  std::uint64_t size = 0;         // octets of the stored message (0: unknown)
  bool active = false;            // an attempt is running now
  std::int64_t lifetime_end = 0;  // when it expires (unix seconds)
};

// Postfix's queue names: "hold", "active" (being delivered), "deferred" (tried before),
// "incoming" (not tried yet).
std::string queue_name(const ListedItem& item);

std::string mailq_text(const std::vector<ListedItem>& items);
std::string json_line(const ListedItem& item);  // with its LF
std::string show_text(const ListedItem& item, std::string_view transcript);
// "2026-12-02 21:58:51 UTC"
std::string utc_text(std::int64_t unix_seconds);
std::string why_text(const ListedItem& item, std::int64_t now);

// What the console's queue table asks for. Every field empty: everything. Matching is
// case-insensitive (RFC 5321 §2.4: domains are; local parts are case-sensitive to the
// destination only, so an operator's search may ignore case).
struct ListFilter {
  std::string sender;     // a substring of the sender; "<>" the null sender only
  std::string recipient;  // a substring of any recipient's address
  std::string domain;     // any recipient's domain, exactly
  std::string state;      // queue_name(): "hold", "active", "deferred" or "incoming"
};
bool matches(const ListedItem& item, const ListFilter& filter);

struct ListPage {
  std::vector<ListedItem> items;  // at most per_page of them, in the order given
  std::size_t total = 0;          // how many matched in all
};
// Page `page` (from 1) of `per_page` of the items that match; past the end: none (total still
// counted). Callers bound both numbers (the console answers 400 beyond its limits).
ListPage select_page(std::vector<ListedItem> items, const ListFilter& filter, std::size_t page,
                     std::size_t per_page);

// What a listing needs of a parked item (the envelope's text, not decoded), found by scanning
// its lines: the console's pages over a million parked items must not decode every envelope
// (QueueRunner::page). Agrees with decode_envelope() on every text encode_envelope() writes
// (tested against it).
struct EnvelopeSummary {
  bool ok = false;  // "arrival" was found
  std::int64_t arrival = 0;
  bool held = false;
  bool tried = false;      // a recipient has attempts (queue_name(): "deferred")
  std::size_t queued = 0;  // recipients still to deliver (is_queued)
};
EnvelopeSummary peek_envelope(std::string_view text);
// queue_name() of a parked item (never "active") from its summary.
std::string queue_name(const EnvelopeSummary& s);
// False only when the envelope text cannot match the filter's sender, recipient and domain (a
// piece of the address between '@'s, xtext-encoded, is missing from it, in any case); then the
// text need not be decoded. True says nothing: matches() decides.
bool may_match(std::string_view text, const ListFilter& filter);

// `s` as a JSON string, quotes included (RFC 8259 §7; UTF-8 passes as is).
std::string json_quote(std::string_view s);
// One item as a JSON object for the console: postqueue -j's names where it has them
// (queue_name, queue_id, arrival_time, message_size, sender) and the rest of show_text():
// queue_file, expires, held_since, active, client, helo, auth_user, envid, next_attempt, and
// every recipient (done ones too) with address, original, state, attempts, next_attempt, route,
// last_reply. No trailing LF.
std::string json_item(const ListedItem& item);

// The header section of a message: everything before the first empty line (CRLF CRLF, or LF
// LF), or all of it when there is none (RFC 5322 §2.1).
std::string_view header_section(std::string_view message);

}  // namespace taube::queue
