// The connection's input buffer: allocated without zero-filling (a std::vector<char> resize
// memset 16 KiB per read burst, half of all instructions in the protocol-only profile) and
// released while the connection is idle.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>

namespace taube::net {

class ReadBuffer {
 public:
  char* data() { return p_.get(); }
  std::size_t capacity() const { return cap_; }
  // Makes room for at least `want_free` octets after the first `used`, which are kept.
  void ensure(std::size_t used, std::size_t want_free) {
    if (cap_ - used >= want_free) return;
    const std::size_t ncap = used + want_free;
    auto n = std::make_unique_for_overwrite<char[]>(ncap);
    if (used > 0) std::memcpy(n.get(), p_.get(), used);
    p_ = std::move(n);
    cap_ = ncap;
  }
  void release() {
    p_.reset();
    cap_ = 0;
  }

 private:
  std::unique_ptr<char[]> p_;
  std::size_t cap_ = 0;
};

}  // namespace taube::net
