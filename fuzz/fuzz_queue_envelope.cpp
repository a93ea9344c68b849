// Fuzz target: the queue envelope decoder (src/queue/envelope.hpp) on arbitrary text. Invariants:
// no crash; whatever decodes re-encodes to a text that decodes to the same envelope, and that
// text is a fixed point of encode(decode(.)).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "queue/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto in = taube::fuzz::as_chars(data, size);
  auto env = taube::queue::decode_envelope(std::string_view(in.data(), in.size()));
  if (!env) return 0;
  const std::string text = taube::queue::encode_envelope(*env);
  auto again = taube::queue::decode_envelope(text);
  TAUBE_FUZZ_CHECK(again.has_value());
  TAUBE_FUZZ_CHECK(*again == *env);
  TAUBE_FUZZ_CHECK(taube::queue::encode_envelope(*again) == text);
  return 0;
}
