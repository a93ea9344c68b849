// crashfs::Data: file content in copy-on-write chunks (model.hpp).
#include <algorithm>
#include <cstring>

#include "model.hpp"

namespace crashfs {

char* Data::writable(std::size_t i) {
  auto& c = chunks_[i];
  if (!c) {
    c = std::make_shared<Chunk>();
    c->fill('\0');
  } else if (c.use_count() > 1) {
    c = std::make_shared<Chunk>(*c);  // shared with a durable snapshot: copy on write
  }
  return c->data();
}

void Data::write(std::uint64_t off, const char* p, std::size_t n) {
  if (n == 0) return;
  const std::uint64_t end = off + n;
  const std::size_t need = static_cast<std::size_t>((end + kChunk - 1) / kChunk);
  if (chunks_.size() < need) chunks_.resize(need);
  while (n > 0) {
    const std::size_t i = static_cast<std::size_t>(off / kChunk);
    const std::size_t at = static_cast<std::size_t>(off % kChunk);
    const std::size_t k = std::min(n, kChunk - at);
    std::memcpy(writable(i) + at, p, k);
    off += k;
    p += k;
    n -= k;
  }
  size_ = std::max(size_, end);
}

std::size_t Data::read(std::uint64_t off, char* p, std::size_t n) const {
  if (off >= size_) return 0;
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - off));
  const std::size_t total = n;
  while (n > 0) {
    const std::size_t i = static_cast<std::size_t>(off / kChunk);
    const std::size_t at = static_cast<std::size_t>(off % kChunk);
    const std::size_t k = std::min(n, kChunk - at);
    if (i < chunks_.size() && chunks_[i]) {
      std::memcpy(p, chunks_[i]->data() + at, k);
    } else {
      std::memset(p, 0, k);
    }
    off += k;
    p += k;
    n -= k;
  }
  return total;
}

void Data::truncate(std::uint64_t n) {
  if (n < size_) {
    const std::size_t keep = static_cast<std::size_t>((n + kChunk - 1) / kChunk);
    if (chunks_.size() > keep) chunks_.resize(keep);
    // Bytes past the new end inside the last chunk read as zeros if the file grows again.
    if (n % kChunk != 0 && keep > 0 && keep <= chunks_.size() && chunks_[keep - 1]) {
      const std::size_t at = static_cast<std::size_t>(n % kChunk);
      std::memset(writable(keep - 1) + at, 0, kChunk - at);
    }
  }
  size_ = n;
}

}  // namespace crashfs
