// Fuzz target: the delivery history's line decoders (src/store/delivery_record.hpp) on arbitrary
// text, as a torn write, a foreign file or a full disk may leave a history segment or an
// attempts file. Invariants: no crash; a line that decodes re-encodes to one line (a single
// '\n', at its end) that decodes again; from there encode(decode(.)) is a fixed point. (Not
// from the first encoding: text/json writes an octet of invalid UTF-8 as \u00XX, which reads
// back as that code point, valid UTF-8 from then on.)
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "store/delivery_record.hpp"

namespace {

void check_one_line(const std::string& s) {
  TAUBE_FUZZ_CHECK(!s.empty() && s.back() == '\n');
  TAUBE_FUZZ_CHECK(s.find('\n') == s.size() - 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace taube::store;
  const auto in = taube::fuzz::as_chars(data, size);
  const std::string_view line(in.data(), in.size());
  if (auto r = decode_record(line)) {
    const std::string once = encode_record(*r);
    check_one_line(once);
    auto again = decode_record(once);
    TAUBE_FUZZ_CHECK(again.has_value());
    const std::string twice = encode_record(*again);
    auto third = decode_record(twice);
    TAUBE_FUZZ_CHECK(third.has_value());
    TAUBE_FUZZ_CHECK(encode_record(*third) == twice);
  }
  if (auto a = decode_attempt_line(line)) {
    const std::string once = encode_attempt_line(a->rcpt, a->attempt);
    check_one_line(once);
    auto again = decode_attempt_line(once);
    TAUBE_FUZZ_CHECK(again.has_value());
    const std::string twice = encode_attempt_line(again->rcpt, again->attempt);
    auto third = decode_attempt_line(twice);
    TAUBE_FUZZ_CHECK(third.has_value());
    TAUBE_FUZZ_CHECK(encode_attempt_line(third->rcpt, third->attempt) == twice);
  }
  return 0;
}
