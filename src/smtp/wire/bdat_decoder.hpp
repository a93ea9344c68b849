// The BDAT decoder (RFC 3030 §2): chunks are counted octets, no dot handling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace taube::smtp {

// The BDAT decoder (RFC 3030): counts a chunk's octets; converts <CRLF> to LF for the store (a
// <CR> at the end of one chunk pairs with an <LF> at the start of the next). No dot handling.
class BdatDecoder {
 public:
  explicit BdatDecoder(std::uint64_t max_size = 0) : max_size_(max_size) {}

  // Starts a chunk of `octets` octets.
  void start_chunk(std::uint64_t octets) { remaining_ = octets; }
  // Consumes up to the end of the current chunk, appending decoded content unless the sticky
  // size error is set. Returns octets consumed.
  std::size_t feed(std::span<const char> in, std::string& out);
  // Flushes a trailing <CR> held back at the end of the last chunk.
  void finish(std::string& out);

  bool chunk_done() const { return remaining_ == 0; }
  bool too_big() const { return too_big_; }
  std::uint64_t size() const { return size_; }

 private:
  std::uint64_t max_size_;
  std::uint64_t remaining_ = 0;
  std::uint64_t size_ = 0;
  bool pending_cr_ = false;
  bool too_big_ = false;
};

}  // namespace taube::smtp
