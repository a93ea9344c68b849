// JSON string escaping (RFC 8259 §7), for the JSON log lines (app/log_output) and the queue's
// `postqueue -j` listing (queue/listing). Quotes, backslash and the control characters are
// escaped; valid UTF-8 (SMTPUTF8 addresses, RFC 6531) passes through as it is, since JSON text
// is UTF-8 (RFC 8259 §8.1). A byte that is not part of a valid UTF-8 sequence (a Latin-1 HELO
// name, a broken header) becomes \u00XX, the code point of the same number: the output is
// always valid JSON, and a log shipper (Loki, jq) never rejects a line for a client's octets.
#pragma once

#include <string>
#include <string_view>

namespace taube::text {

// Appends `s`, escaped, without the surrounding quotes.
void append_json_escaped(std::string& out, std::string_view s);
// Appends `s` as a JSON string: "\"...\"".
void append_json_string(std::string& out, std::string_view s);
// `s` escaped, without quotes.
std::string json_escape(std::string_view s);

}  // namespace taube::text
