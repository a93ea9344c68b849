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
std::string why_text(const ListedItem& item, std::int64_t now);

}  // namespace taube::queue
