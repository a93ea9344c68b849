#include "smtp/wire/header_scanner.hpp"

namespace taube::smtp {

void HeaderScanner::feed(std::span<const char> content) {
  for (const char c : content) {
    if (done_) return;
    if (c == '\n') {
      // An empty line (a newline at the start of a line) ends the header section (RFC 5322 §2.1).
      if (at_line_start_) done_ = true;
      at_line_start_ = true;
      matched_ = 0;
      mismatch_ = false;
      continue;
    }
    if (at_line_start_) {
      at_line_start_ = false;
      mismatch_ = false;
      matched_ = 0;
    }
    if (mismatch_ || matched_ == sizeof(kName) - 1) continue;
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kName[matched_]) {
      mismatch_ = true;
      continue;
    }
    if (++matched_ == sizeof(kName) - 1) ++received_;
  }
}

}  // namespace taube::smtp
