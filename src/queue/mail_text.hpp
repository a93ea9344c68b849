// Text that Taube writes into messages of its own (delivery status notifications): every value that
// came from outside (recipient addresses, remote replies, host names) passes through clean_text
// before it reaches a header field or a body line, and every line is bounded. Pure formatting:
// dates are passed in as unix seconds, nothing reads a clock. Lines end in LF (the store format).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace taube::queue {

// RFC 5322 §2.1.1: a line MUST NOT exceed 998 octets (without its line ending) and SHOULD NOT
// exceed 78.
inline constexpr std::size_t kMaxLineOctets = 998;
inline constexpr std::size_t kFoldColumn = 78;

enum class TextCharset {
  Ascii,  // 7-bit parts (message/delivery-status, RFC 3464 §2.1): non-ASCII octets become '?'
  Utf8,   // UTF-8 parts (RFC 6533, RFC 6532): valid UTF-8 is kept, each invalid octet becomes '?'
};

// One line of printable text: CR, LF, TAB and every run of spaces become a single space (so no
// value can end a header field or start a new one), other controls and DEL become '?', leading
// and trailing spaces are removed. The result contains no octet below 0x20 and no "  ".
std::string clean_text(std::string_view in, TextCharset charset);

// The header field "Name: value", folded (RFC 5322 §2.2.3): a break is put before a space where
// the line would pass kFoldColumn, so unfolding gives the value back unchanged. A single word too
// long for kMaxLineOctets is cut (at a UTF-8 character boundary), which adds one space to the
// unfolded value: the hard limit wins over fidelity. `value` must come from clean_text. Every line
// ends in LF; continuation lines start with a space.
std::string header_field(std::string_view name, std::string_view value);

// A paragraph of body text, wrapped the same way, continuation lines starting with `indent`
// instead of the space. `text` must come from clean_text. Every line ends in LF.
std::string wrap_text(std::string_view text, std::string_view indent);

// The longest prefix of `s` of at most `max` octets that does not end inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max);

// RFC 5322 §3.3 date-time of a unix time, in UTC: "Tue, 2 Dec 2025 14:40:00 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace taube::queue
