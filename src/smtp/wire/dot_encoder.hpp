// The DATA encoder, the inverse of DotDecoder (RFC 5321 §4.5.2, §4.1.1.4): turns a message as
// Taube stores it (LF line endings) into its wire form, chunk by chunk.
//
//  * every line break goes out as <CRLF>: a stored LF, a stored CRLF (kept as one CRLF, never
//    CR CR LF), and a lone CR too. RFC 5321 §2.3.8 forbids a bare CR or LF in the message text;
//    receivers reject it (Taube's own DotDecoder answers 550 5.5.2) or, worse, each read it their
//    own way (one as a line break, another not: the root of SMTP smuggling). Writing it as a line
//    break is the one reading every receiver agrees on;
//  * Mode::Data: a line starting with "." gets another "." (dot-stuffing, RFC 5321 §4.5.2), and
//    finish() writes the end of data: a <CRLF> when the content does not end with a line break
//    (the terminator must start a line), then ".<CRLF>". The encoded stream therefore contains
//    <CRLF>.<CRLF> only at its very end;
//  * Mode::Bdat: no stuffing and no terminator (RFC 3030 §2: a chunk carries the message as it
//    is, counted, with CRLF line endings); finish() only flushes a held CR.
//
// The round trip, for stored content x: DotDecoder(encode(x)) gives x with every CRLF and every
// lone CR turned into LF and, in Data mode, a final LF added when x is not empty and does not
// end with one (a DATA body cannot end without a line break). An x without CR comes back
// unchanged but for that final LF.
//
// Chunk boundaries never change the output: a CR at the end of one chunk is held until the next
// octet shows whether it starts a CRLF.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace taube::smtp {

class DotEncoder {
 public:
  enum class Mode { Data, Bdat };

  explicit DotEncoder(Mode mode = Mode::Data) : mode_(mode) {}

  // Appends the wire form of `in` to `out`. A trailing CR of `in` is held back (nothing written
  // for it yet).
  void encode(std::span<const char> in, std::string& out);
  // Appends what is still owed: the held CR as <CRLF>; in Data mode the <CRLF> that completes an
  // unterminated last line, then ".<CRLF>". Call once, after the last encode().
  void finish(std::string& out);

  // The message size as RFC 1870 §3 counts it for SIZE=: octets written with every line break
  // as <CRLF>, but without the stuffing dots and the ".<CRLF>" terminator. Equals what the
  // receiving DotDecoder counts in size(); in Bdat mode, the octets written.
  std::uint64_t message_octets() const { return octets_; }

 private:
  void line_break(std::string& out);

  Mode mode_;
  bool line_start_ = true;   // the next octet starts a line
  bool pending_cr_ = false;  // the last octet seen was a CR, not yet written
  std::uint64_t octets_ = 0;
};

}  // namespace taube::smtp
