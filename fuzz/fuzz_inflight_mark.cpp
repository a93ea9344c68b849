// Fuzz target: the queue's in-flight log parser (src/queue/inflight.hpp) on arbitrary text, as a
// crash may leave it. Invariants: no crash; every mark parsed re-encodes to one line that parses
// back to the same mark, and that line is a fixed point of encode(parse(.)).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "queue/inflight.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = taube::fuzz::as_chars(data, size);
  for (const auto& m : taube::queue::parse_marks(std::string_view(in.data(), in.size()))) {
    const std::string line = taube::queue::encode_mark(m);
    TAUBE_FUZZ_CHECK(!line.empty() && line.back() == '\n');
    TAUBE_FUZZ_CHECK(line.find('\n') == line.size() - 1);
    auto again = taube::queue::parse_mark(std::string_view(line).substr(0, line.size() - 1));
    TAUBE_FUZZ_CHECK(again.has_value());
    TAUBE_FUZZ_CHECK(*again == m);
    TAUBE_FUZZ_CHECK(taube::queue::encode_mark(*again) == line);
  }
  return 0;
}
