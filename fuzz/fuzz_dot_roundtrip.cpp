// Fuzz target: the DATA/BDAT encoder (dot_encoder.hpp) against the receiving decoders.
//
// Input byte 0, bit 0 picks the mode (Data, Bdat). Byte 1 seeds the way the rest (the stored
// message) is split into encode() calls.
//
// Invariants (abort on violation):
//  * splitting the input never changes the encoded stream or message_octets();
//  * the stream has CRLF line endings only (no bare CR, no bare LF: RFC 5321 §2.3.8);
//  * Data: with the DATA command's CRLF in front, <CRLF>.<CRLF> occurs once, at the very end;
//    the strict DotDecoder finds the end exactly there, with no error, and stores the input with
//    every CRLF and lone CR as LF plus a final LF when the input does not end with a line break
//    (the documented round trip); its size() equals message_octets();
//  * Bdat: the BdatDecoder given the stream as one chunk stores the same normalised input
//    (without the added final LF), and message_octets() is the stream's length.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "smtp/wire/bdat_decoder.hpp"
#include "smtp/wire/dot_decoder.hpp"
#include "smtp/wire/dot_encoder.hpp"

using namespace taube::smtp;
using taube::fuzz::SplitRng;

namespace {

// A deliberately naive statement of the round trip: CRLF -> LF, lone CR -> LF, and for DATA a
// final LF when the content is not empty and does not end with one.
std::string normalised(std::string_view in, bool data) {
  std::string r;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      r.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      r.push_back(in[i]);
    }
  }
  if (data && !r.empty() && r.back() != '\n') r.push_back('\n');
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool bdat = (data[0] & 1) != 0;
  const DotEncoder::Mode mode = bdat ? DotEncoder::Mode::Bdat : DotEncoder::Mode::Data;
  SplitRng rng(data[1]);
  const auto in = taube::fuzz::as_chars(data + 2, size - 2);
  const std::string_view text(in.data(), in.size());

  DotEncoder whole(mode);
  std::string wire;
  whole.encode(in, wire);
  whole.finish(wire);

  DotEncoder split(mode);
  std::string wire2;
  for (std::size_t used = 0; used < in.size();) {
    const std::size_t len = rng.piece(in.size() - used);
    split.encode(in.subspan(used, len), wire2);
    used += len;
  }
  split.finish(wire2);
  TAUBE_FUZZ_CHECK(wire == wire2);
  TAUBE_FUZZ_CHECK(whole.message_octets() == split.message_octets());

  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') TAUBE_FUZZ_CHECK(i + 1 < wire.size() && wire[i + 1] == '\n');
    if (wire[i] == '\n') TAUBE_FUZZ_CHECK(i > 0 && wire[i - 1] == '\r');
  }

  const std::string want = normalised(text, !bdat);
  if (!bdat) {
    const std::string stream = "\r\n" + wire;
    TAUBE_FUZZ_CHECK(stream.size() >= 5 && stream.find("\r\n.\r\n") == stream.size() - 5);
    DotDecoder dec;  // strict: bare CR/LF rejected, no size or line limits
    std::string stored;
    TAUBE_FUZZ_CHECK(dec.feed(wire, stored) == wire.size());
    TAUBE_FUZZ_CHECK(dec.done() && dec.error() == DataError::None);
    TAUBE_FUZZ_CHECK(dec.bare_cr() == 0 && dec.bare_lf() == 0);
    TAUBE_FUZZ_CHECK(stored == want);
    TAUBE_FUZZ_CHECK(dec.size() == whole.message_octets());
  } else {
    TAUBE_FUZZ_CHECK(whole.message_octets() == wire.size());
    BdatDecoder dec;
    dec.start_chunk(wire.size());
    std::string stored;
    TAUBE_FUZZ_CHECK(dec.feed(wire, stored) == wire.size());
    dec.finish(stored);
    TAUBE_FUZZ_CHECK(dec.chunk_done() && !dec.too_big());
    TAUBE_FUZZ_CHECK(stored == want);
  }
  return 0;
}
