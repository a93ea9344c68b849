#include "smtp/wire/bdat_decoder.hpp"

#include <algorithm>

namespace taube::smtp {

std::size_t BdatDecoder::feed(std::span<const char> in, std::string& out) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), remaining_));
  remaining_ -= n;
  if (too_big_) {
    size_ += n;
    return n;
  }
  // Output is exactly the content up to the limit, whatever the input splits were.
  std::size_t keep = n;
  if (max_size_ != 0 && size_ + n > max_size_) {
    keep = size_ >= max_size_ ? 0 : static_cast<std::size_t>(max_size_ - size_);
    too_big_ = true;
  }
  size_ += n;
  // Convert <CRLF> to LF for the store; a <CR> at the end of a chunk is held back until the next
  // octet shows whether it starts a <CRLF> that spans two chunks.
  const char* p = in.data();
  const char* const e = p + keep;
  while (p < e) {
    if (pending_cr_) {
      pending_cr_ = false;
      if (*p == '\n') {
        out.push_back('\n');
        ++p;
        continue;
      }
      out.push_back('\r');
    }
    const char* q = p;
    while (q < e && *q != '\r') ++q;
    out.append(p, static_cast<std::size_t>(q - p));
    if (q == e) break;
    pending_cr_ = true;
    p = q + 1;
  }
  return n;
}

void BdatDecoder::finish(std::string& out) {
  if (pending_cr_ && !too_big_) out.push_back('\r');
  pending_cr_ = false;
}

}  // namespace taube::smtp
