// The SMTP transcripts of a queued message's last attempts, as kept in its transcript file
// (QueueStore::save_transcript) and shown by the console and `taube queue show`. Pure.
//
// The file is a run of sections, oldest first, each opened by a heading line
//   === attempt at 2026-12-02 21:58:51 UTC, mx.remote.test[192.0.2.1]:25 ===
// and followed by that attempt's lines. A transcript line always starts with "< ", "> " or
// "[" (smtp/client/client_session.cpp), so a heading cannot be forged by a peer's reply. A file
// written before sections existed (no heading) reads as one section without a heading.
//
// Bounded: the last kKeptAttempts attempts and kMaxTranscriptOctets octets (a session's own
// transcript is at most 16 KiB of lines plus its opening): an item deferred for five days keeps
// what explains its state, not a hundred attempts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taube::queue {

inline constexpr std::size_t kKeptAttempts = 5;
inline constexpr std::size_t kMaxTranscriptOctets = 96 * 1024;

struct AttemptTranscript {
  std::string heading;  // "attempt at 2026-12-02 21:58:51 UTC, relay" ("" for an old file)
  std::string text;     // its lines, each ending in '\n'
};

// "attempt at <utc>, <relay>" (", <relay>" left out when it is empty).
std::string attempt_heading(std::int64_t unix_seconds, std::string_view relay);

// The file after one more attempt: `existing` (a file's content, possibly empty) with a section
// for `transcript` appended, then the oldest sections dropped beyond `keep` attempts or
// `max_octets` (the newest is always kept, whatever its size).
std::string add_attempt(std::string_view existing, std::string_view heading,
                        std::string_view transcript, std::size_t keep = kKeptAttempts,
                        std::size_t max_octets = kMaxTranscriptOctets);

// The file's sections, oldest first; none for an empty file.
std::vector<AttemptTranscript> split_attempts(std::string_view file);

// The newest section's text ("" for an empty file).
std::string last_attempt(std::string_view file);

}  // namespace taube::queue
