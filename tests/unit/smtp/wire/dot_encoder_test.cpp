// Tests for src/smtp/wire/dot_encoder.cpp (RFC 5321 §4.5.2, §4.1.1.4, §2.3.8; RFC 3030 §2):
// byte-exact examples, the same output for every split of the input, and the round trip through
// the receiving decoders (DotDecoder for DATA, BdatDecoder for BDAT).
#include "smtp/wire/dot_encoder.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "smtp/wire/bdat_decoder.hpp"
#include "smtp/wire/dot_decoder.hpp"
#include "split_feed.hpp"

namespace taube::smtp {
namespace {

using testing::expect_split_invariant;
using testing::Pieces;
using testing::visible;
using Mode = DotEncoder::Mode;

struct Encoded {
  std::string wire;
  std::uint64_t octets = 0;
  bool operator==(const Encoded&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Encoded& e) {
  return os << "\"" << visible(e.wire) << "\" octets=" << e.octets;
}

Encoded run(const Pieces& pieces, Mode mode) {
  DotEncoder enc(mode);
  Encoded e;
  for (const auto piece : pieces) enc.encode(piece, e.wire);
  enc.finish(e.wire);
  e.octets = enc.message_octets();
  return e;
}

std::string encode(std::string_view in, Mode mode = Mode::Data) {
  return expect_split_invariant(in, [&](const Pieces& p) { return run(p, mode); }).wire;
}

// What the receiver stores: every CRLF and lone CR as LF; for DATA a final LF when missing.
std::string expected_roundtrip(std::string_view in, Mode mode) {
  std::string r;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      r.push_back('\n');
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      r.push_back(in[i]);
    }
  }
  if (mode == Mode::Data && !r.empty() && r.back() != '\n') r.push_back('\n');
  return r;
}

TEST(DotEncoder, DataExamples) {
  EXPECT_EQ(encode(""), ".\r\n");  // the DATA line's CRLF starts the terminator
  EXPECT_EQ(encode("a\n"), "a\r\n.\r\n");
  EXPECT_EQ(encode("a"), "a\r\n.\r\n");  // unterminated last line completed
  EXPECT_EQ(encode("\n"), "\r\n.\r\n");
  EXPECT_EQ(encode("\n\n"), "\r\n\r\n.\r\n");
  EXPECT_EQ(encode("Subject: x\n\nbody\n"), "Subject: x\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(encode("x.y\n"), "x.y\r\n.\r\n");  // only a dot at line start is stuffed
}

TEST(DotEncoder, DataDotStuffing) {
  EXPECT_EQ(encode(".\n"), "..\r\n.\r\n");
  EXPECT_EQ(encode("."), "..\r\n.\r\n");
  EXPECT_EQ(encode("..x\n"), "...x\r\n.\r\n");
  EXPECT_EQ(encode("a\n.\nb\n"), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(encode(".a\n.b"), "..a\r\n..b\r\n.\r\n");
  EXPECT_EQ(encode("a\r\n.\r\n"), "a\r\n..\r\n.\r\n");  // a stored terminator is only text
}

TEST(DotEncoder, StoredCrlfStaysOneCrlf) {
  EXPECT_EQ(encode("a\r\nb\r\n"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(encode("a\r\n\r\n"), "a\r\n\r\n.\r\n");
  EXPECT_EQ(encode("a\r\nb\nc\r\n"), "a\r\nb\r\nc\r\n.\r\n");
}

TEST(DotEncoder, LoneCrBecomesCrlf) {
  EXPECT_EQ(encode("a\rb"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(encode("\r"), "\r\n.\r\n");
  EXPECT_EQ(encode("a\r"), "a\r\n.\r\n");
  EXPECT_EQ(encode("a\r\r\n"), "a\r\n\r\n.\r\n");  // CR, then CRLF
  EXPECT_EQ(encode("a\r\rb"), "a\r\n\r\nb\r\n.\r\n");
  // The line after a lone CR starts a line, so its dot is stuffed: "a\r.\r" cannot end the data.
  EXPECT_EQ(encode("a\r.\rb"), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(encode("a\n\r.\r\n"), "a\r\n\r\n..\r\n.\r\n");
}

TEST(DotEncoder, BdatExamples) {
  EXPECT_EQ(encode("", Mode::Bdat), "");
  EXPECT_EQ(encode("a", Mode::Bdat), "a");  // as is: no line break added
  EXPECT_EQ(encode(".\n", Mode::Bdat), ".\r\n");
  EXPECT_EQ(encode("a\n.\n", Mode::Bdat), "a\r\n.\r\n");  // no stuffing, no terminator
  EXPECT_EQ(encode("a\r\nb", Mode::Bdat), "a\r\nb");
  EXPECT_EQ(encode("a\r", Mode::Bdat), "a\r\n");
  EXPECT_EQ(encode("a\rb\r\r\n", Mode::Bdat), "a\r\nb\r\n\r\n");
}

TEST(DotEncoder, HeldCrIsWrittenOnlyWhenKnown) {
  DotEncoder enc;
  std::string out;
  enc.encode(std::string_view("abc\r"), out);
  EXPECT_EQ(out, "abc");  // the CR might start a CRLF
  enc.encode(std::string_view("\n.x"), out);
  EXPECT_EQ(out, "abc\r\n..x");
  enc.finish(out);
  EXPECT_EQ(out, "abc\r\n..x\r\n.\r\n");
}

TEST(DotEncoder, MessageOctetsCountTheRfc1870Size) {
  DotEncoder enc;
  std::string out;
  enc.encode(std::string_view(".a\n..\nb"), out);
  enc.finish(out);
  // ".a" CRLF ".." CRLF "b" CRLF = 2+2+2+2+1+2, without the 2 stuffing dots and ".\r\n".
  EXPECT_EQ(enc.message_octets(), 11u);
  EXPECT_EQ(out.size(), 11u + 2 + 3);
  DotEncoder bdat(Mode::Bdat);
  std::string b;
  bdat.encode(std::string_view(".a\n..\nb"), b);
  bdat.finish(b);
  EXPECT_EQ(bdat.message_octets(), b.size());
}

// Every string over {a . CR LF} up to 6 octets, plus longer realistic ones.
std::vector<std::string> inputs() {
  std::vector<std::string> all{""};
  std::vector<std::string> layer{""};
  for (int len = 1; len <= 6; ++len) {
    std::vector<std::string> next;
    for (const auto& s : layer)
      for (const char c : {'a', '.', '\r', '\n'}) next.push_back(s + c);
    all.insert(all.end(), next.begin(), next.end());
    layer = std::move(next);
  }
  all.push_back("From: a@example.org\nSubject: dots\n\n.\n..\n...\n.x\nend");
  all.push_back("Mixed\r\nline\nends\rand\r\r\n.\r.\n.\r\n");
  all.push_back(std::string(5000, 'x') + "\n." + std::string(3000, 'y'));
  return all;
}

// Feeds the wire form to the DATA decoder (strict: bare newlines rejected) and checks the round
// trip, the size, and that the terminator appears only at the end.
void check_data_roundtrip(const std::string& in) {
  const Encoded e = run({in}, Mode::Data);
  DotDecoder dec;
  std::string stored;
  const std::size_t n = dec.feed(e.wire, stored);
  ASSERT_TRUE(dec.done()) << visible(in) << " -> " << visible(e.wire);
  EXPECT_EQ(n, e.wire.size()) << visible(in);  // the end of data is the end of the stream
  EXPECT_EQ(dec.error(), DataError::None) << visible(in);
  EXPECT_EQ(dec.bare_cr() + dec.bare_lf(), 0u) << visible(in);
  EXPECT_EQ(stored, expected_roundtrip(in, Mode::Data)) << visible(in);
  EXPECT_EQ(dec.size(), e.octets) << visible(in);
  // With the DATA line's CRLF in front, <CRLF>.<CRLF> occurs exactly once, at the end.
  const std::string stream = "\r\n" + e.wire;
  EXPECT_EQ(stream.find("\r\n.\r\n"), stream.size() - 5) << visible(in);
}

void check_bdat_roundtrip(const std::string& in) {
  const Encoded e = run({in}, Mode::Bdat);
  EXPECT_EQ(e.octets, e.wire.size());
  BdatDecoder dec;
  dec.start_chunk(e.wire.size());
  std::string stored;
  EXPECT_EQ(dec.feed(e.wire, stored), e.wire.size());
  dec.finish(stored);
  EXPECT_EQ(stored, expected_roundtrip(in, Mode::Bdat)) << visible(in);
  // CRLF line endings only (RFC 5321 §2.3.8).
  for (std::size_t i = 0; i < e.wire.size(); ++i) {
    if (e.wire[i] == '\r') EXPECT_TRUE(i + 1 < e.wire.size() && e.wire[i + 1] == '\n');
    if (e.wire[i] == '\n') EXPECT_TRUE(i > 0 && e.wire[i - 1] == '\r');
  }
}

TEST(DotEncoder, RoundTripThroughDotDecoder) {
  for (const std::string& in : inputs()) check_data_roundtrip(in);
}

TEST(DotEncoder, RoundTripThroughBdatDecoder) {
  for (const std::string& in : inputs()) check_bdat_roundtrip(in);
}

TEST(DotEncoder, InputWithoutCrComesBackUnchanged) {
  for (const std::string& in : inputs()) {
    if (in.find('\r') != std::string::npos) continue;
    DotDecoder dec;
    std::string stored;
    dec.feed(run({in}, Mode::Data).wire, stored);
    std::string want = in;
    if (!want.empty() && want.back() != '\n') want.push_back('\n');
    EXPECT_EQ(stored, want) << visible(in);
  }
}

TEST(DotEncoder, EverySplitGivesTheSameOutput) {
  for (const std::string& in : inputs()) {
    if (in.size() > 100) continue;  // the long ones below, with fewer plans
    for (const Mode mode : {Mode::Data, Mode::Bdat})
      expect_split_invariant(in, [&](const Pieces& p) { return run(p, mode); });
  }
}

TEST(DotEncoder, LongInputSplitsGiveTheSameOutput) {
  const std::string in =
      "a\r\n.\r." + std::string(200, 'z') + "\r\n..\n\r\r" + std::string(50, '.');
  for (const Mode mode : {Mode::Data, Mode::Bdat})
    expect_split_invariant(in, [&](const Pieces& p) { return run(p, mode); });
}

}  // namespace
}  // namespace taube::smtp
