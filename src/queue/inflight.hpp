// The "end of data sent, reply pending" mark of a delivery attempt (the queue's in-flight log,
// store/inflight_log.hpp). RFC 5321 §6.1: once the data is out, only the peer knows whether it
// took the message; if Taube dies before the reply is recorded, the next start delivers the
// recipients again — SMTP's at-least-once rule — and the mark is what lets it say so ("possible
// duplicate") instead of repeating the delivery silently.
//
// One line per mark:  taube-inflight 1 <unix time> <item name> <relay> <idx>:<attempts>[,...]
// where each recipient is named by its index in the item's envelope and the number of attempts
// the envelope counted before this one: the attempt's result was recorded exactly when that
// count has grown (queue/attempt.hpp adds one per attempt) or the item is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "queue/envelope.hpp"

namespace taube::queue {

struct InflightMark {
  std::int64_t time = 0;
  std::string name;   // the queue item (file name)
  std::string relay;  // where the data went, "host[ip]:port" (spaces become '_')
  std::vector<std::pair<std::size_t, std::uint32_t>> recipients;  // index, attempts before
  friend bool operator==(const InflightMark&, const InflightMark&) = default;
};

std::string encode_mark(const InflightMark& m);  // one line, with its LF
// One line without its LF; nothing for a line that is not a whole mark (a write torn by the
// crash, or garbage).
std::optional<InflightMark> parse_mark(std::string_view line);
// Every whole mark of a log's text.
std::vector<InflightMark> parse_marks(std::string_view text);

// The recipients of `m` whose attempt was never recorded in `env` (still queued, attempts
// unchanged): the possible duplicates.
std::vector<std::size_t> unrecorded(const InflightMark& m, const QueueEnvelope& env);

}  // namespace taube::queue
