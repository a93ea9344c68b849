#pragma once

#include <string>

namespace taube::net {

// A queue id, unique per host over time: 16 upper-case hex digits from the clock (microseconds)
// and a process-wide sequence, like Postfix's long queue ids in spirit.
std::string new_queue_id();

// The current time as an RFC 5322 date-time, e.g. "Mon, 23 Nov 2026 18:04:05 +0000".
std::string rfc5322_date_now();

}  // namespace taube::net
