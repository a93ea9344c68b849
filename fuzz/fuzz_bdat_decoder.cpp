// Fuzz target: the BDAT decoder (bdat_decoder.hpp).
//
// Input byte 0: bit 0 set = a small max_size (opt >> 1, 0..127 octets), otherwise unlimited.
// Byte 1 seeds the splits. The rest is a sequence of chunks, each a length byte L followed by L
// octets of chunk data (the last chunk may be short: its declared size is then not reached).
//
// Invariants (abort on violation):
//  * a chunk consumes exactly its declared size, never an octet of what follows it, however the
//    octets are offered (in pieces, or in one span that runs past the chunk's end);
//  * size() is the number of chunk octets; too_big() exactly when size() > max_size;
//  * without the size error, the output is the concatenation of all chunks with <CRLF> turned into
//    LF, including a <CRLF> split across two chunks, and a final lone <CR> kept by finish();
//  * with the size error, the output is a prefix of that and no longer than max_size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "smtp/wire/bdat_decoder.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

namespace {

std::string crlf_to_lf(std::string_view s) {
  std::string r;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    r.push_back(s[i]);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t opt = data[0];
  SplitRng rng(data[1]);
  const auto in = taube::fuzz::as_chars(data + 2, size - 2);
  const std::uint64_t max_size = (opt & 1) ? (opt >> 1) : 0;

  BdatDecoder dec(max_size);
  std::string out;
  std::string all;  // every chunk octet fed, in order
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t declared = static_cast<unsigned char>(in[pos++]);
    dec.start_chunk(declared);
    TAUBE_FUZZ_CHECK(dec.chunk_done() == (declared == 0));
    const std::size_t avail = in.size() - pos < declared ? in.size() - pos : declared;
    std::size_t fed = 0;
    while (fed < avail) {
      // Offer a piece; sometimes a span running past the chunk's end (into the next chunk's
      // header and data), which must stop at the chunk boundary.
      std::size_t len = rng.piece(avail - fed);
      if ((rng.next() & 7) == 0) len = in.size() - pos - fed;
      const std::size_t n = dec.feed(in.subspan(pos + fed, len), out);
      TAUBE_FUZZ_CHECK(n <= len);
      const std::size_t left = declared - fed;
      TAUBE_FUZZ_CHECK(n == (len < left ? len : left));
      if (n == 0) TAUBE_FUZZ_CHECK(len == 0);
      fed += n;
    }
    TAUBE_FUZZ_CHECK(fed == avail);
    TAUBE_FUZZ_CHECK(dec.chunk_done() == (fed == declared));
    // A chunk that is complete takes nothing more.
    if (dec.chunk_done() && pos + fed < in.size()) {
      std::string extra;
      TAUBE_FUZZ_CHECK(dec.feed(in.subspan(pos + fed), extra) == 0);
      TAUBE_FUZZ_CHECK(extra.empty());
    }
    all.append(in.data() + pos, fed);
    pos += fed;
    TAUBE_FUZZ_CHECK(dec.size() == all.size());
    TAUBE_FUZZ_CHECK(dec.too_big() == (max_size != 0 && all.size() > max_size));
    // Everything but a held-back final <CR> is already out.
    if (!dec.too_big()) {
      std::string want = crlf_to_lf(all);
      if (!all.empty() && all.back() == '\r') want.pop_back();
      TAUBE_FUZZ_CHECK(out == want);
    }
  }
  dec.finish(out);
  const std::string want = crlf_to_lf(all);
  if (!dec.too_big()) {
    TAUBE_FUZZ_CHECK(out == want);
  } else {
    TAUBE_FUZZ_CHECK(out.size() <= max_size);
    TAUBE_FUZZ_CHECK(want.compare(0, out.size(), out) == 0);
  }
  TAUBE_FUZZ_CHECK(out.size() <= all.size());
  return 0;
}
