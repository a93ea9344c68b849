// Fuzz target: the transcript file's sections (src/queue/transcript_log.hpp) on arbitrary text,
// as a torn write or an older version may leave the file. Invariants: no crash; writing the
// sections back (add_attempt onto an empty file, one by one) reads back as the same sections;
// adding an attempt keeps at most kKeptAttempts sections, the new one last.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "queue/transcript_log.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace taube::queue;
  const auto in = taube::fuzz::as_chars(data, size);
  const std::string_view file(in.data(), in.size());
  const auto sections = split_attempts(file);
  std::string rebuilt;
  for (const auto& s : sections)
    rebuilt = add_attempt(rebuilt, s.heading, s.text, sections.size() + 1, SIZE_MAX);
  const auto again = split_attempts(rebuilt);
  // A section without a heading (an old file's lines) is only possible first.
  TAUBE_FUZZ_CHECK(again.size() == sections.size());
  for (std::size_t i = 0; i < again.size(); ++i) {
    TAUBE_FUZZ_CHECK(again[i].heading == sections[i].heading);
    TAUBE_FUZZ_CHECK(again[i].text == sections[i].text);
  }
  const auto added = split_attempts(add_attempt(file, "attempt at fuzz", "< 250 ok\n"));
  TAUBE_FUZZ_CHECK(!added.empty() && added.size() <= kKeptAttempts);
  TAUBE_FUZZ_CHECK(added.back().heading == "attempt at fuzz");
  TAUBE_FUZZ_CHECK(added.back().text == "< 250 ok\n");
  return 0;
}
