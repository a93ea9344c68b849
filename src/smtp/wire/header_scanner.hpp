// HeaderScanner: watches a message's header section as its content streams by (the store form,
// LF line endings) and counts the trace headers that show how many hops it has made. RFC 5321
// §6.3: a server should refuse mail with too many Received: headers, the simplest loop
// detection (Postfix: hopcount_limit = 50). Incremental: the result does not depend on how the
// content was cut; memory: a few octets of the current line.
#pragma once

#include <cstdint>
#include <span>

namespace taube::smtp {

class HeaderScanner {
 public:
  void feed(std::span<const char> content);
  // Received: header fields seen in the header section (folded continuations are not counted).
  std::uint32_t received() const { return received_; }
  // The empty line ending the header section was seen.
  bool headers_done() const { return done_; }

 private:
  static constexpr char kName[] = "received:";
  bool done_ = false;
  bool at_line_start_ = true;
  std::uint32_t matched_ = 0;  // octets of "received:" matched at the start of the current line
  bool mismatch_ = false;      // the current line cannot be a Received: header
  std::uint32_t received_ = 0;
};

}  // namespace taube::smtp
