// Fuzz target: the command line splitter (parse_command), the "FROM:"/"TO:" prefix stripper, and
// base64 as used for SASL response lines (AUTH, RFC 4954 §4).
// Input byte 0 selects which prefix to strip; the rest is one command line (without <CRLF>).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "smtp/wire/base64.hpp"
#include "smtp/wire/command_parser.hpp"

using namespace taube::smtp;

namespace {

bool within(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::string_view kPrefixes[] = {"FROM:", "TO:", "", "F"};
  const std::string_view prefix = kPrefixes[data[0] & 3];
  const auto chars = taube::fuzz::as_chars(data + 1, size - 1);
  const std::string_view line(chars.data(), chars.size());

  const Command cmd = parse_command(line);
  TAUBE_FUZZ_CHECK(within(cmd.verb_text, line));
  TAUBE_FUZZ_CHECK(within(cmd.argument, line));
  if (cmd.verb == Verb::Invalid) {
    TAUBE_FUZZ_CHECK(cmd.argument.empty());
  } else {
    // A command line never contains control octets other than HT (bare CR, NUL, LF).
    for (unsigned char c : line) TAUBE_FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    TAUBE_FUZZ_CHECK(!cmd.verb_text.empty() && cmd.verb_text.size() <= 16);
    TAUBE_FUZZ_CHECK(cmd.verb_text.data() == line.data());
    for (unsigned char c : cmd.verb_text)
      TAUBE_FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (!cmd.argument.empty()) {
      TAUBE_FUZZ_CHECK(!is_space(cmd.argument.front()) && !is_space(cmd.argument.back()));
      TAUBE_FUZZ_CHECK(cmd.argument.data() > cmd.verb_text.data() + cmd.verb_text.size());
    }
    // The verb name round-trips for known verbs.
    const std::string_view name = verb_name(cmd.verb);
    if (cmd.verb != Verb::Unknown) {
      TAUBE_FUZZ_CHECK(name.size() == cmd.verb_text.size());
      for (std::size_t i = 0; i < name.size(); ++i) {
        char c = cmd.verb_text[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        TAUBE_FUZZ_CHECK(c == name[i]);
      }
    }
    // Parsing is a pure function of the line.
    const Command again = parse_command(line);
    TAUBE_FUZZ_CHECK(again.verb == cmd.verb && again.argument == cmd.argument &&
                     again.verb_text == cmd.verb_text);
  }

  for (std::string_view subject : {cmd.argument, line}) {
    std::string_view arg = subject;
    const bool ok = strip_keyword_prefix(arg, prefix);
    TAUBE_FUZZ_CHECK(within(arg, subject));
    if (ok) {
      TAUBE_FUZZ_CHECK(arg.size() + prefix.size() <= subject.size());
      TAUBE_FUZZ_CHECK(arg.empty() || arg.front() != ' ');
      TAUBE_FUZZ_CHECK(arg.empty() || arg.data() + arg.size() == subject.data() + subject.size());
    } else {
      TAUBE_FUZZ_CHECK(arg == subject);
      TAUBE_FUZZ_CHECK(!prefix.empty());
    }
  }
  // base64: only canonical input decodes (so it re-encodes to itself); encoding round-trips.
  if (auto dec = base64_decode(line)) {
    TAUBE_FUZZ_CHECK(dec->size() <= line.size());
    TAUBE_FUZZ_CHECK(base64_encode(*dec) == line);
  }
  auto round = base64_decode(base64_encode(line));
  TAUBE_FUZZ_CHECK(round.has_value() && *round == line);
  return 0;
}
