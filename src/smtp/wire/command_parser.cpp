#include "smtp/wire/command_parser.hpp"

#include "smtp/wire/address.hpp"

#include <array>
#include <utility>

namespace taube::smtp {

namespace {

constexpr std::array<std::pair<std::string_view, Verb>, 16> kVerbs = {{
    {"HELO", Verb::Helo},
    {"EHLO", Verb::Ehlo},
    {"MAIL", Verb::Mail},
    {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data},
    {"BDAT", Verb::Bdat},
    {"RSET", Verb::Rset},
    {"NOOP", Verb::Noop},
    {"QUIT", Verb::Quit},
    {"VRFY", Verb::Vrfy},
    {"EXPN", Verb::Expn},
    {"HELP", Verb::Help},
    {"ETRN", Verb::Etrn},
    {"STARTTLS", Verb::Starttls},
    {"AUTH", Verb::Auth},
    {"LHLO", Verb::Lhlo},  // RFC 2033 §4.1
}};

}  // namespace

Command parse_command(std::string_view line) {
  Command cmd;
  for (unsigned char c : line) {
    // Control octets other than HT make the line unusable (RFC 5321 §2.3.8 forbids bare CR/LF;
    // NUL has no place in a command).
    if ((c < 0x20 && c != '\t') || c == 0x7f) return cmd;
  }
  const auto end = line.find_first_of(" \t");
  const std::string_view verb = line.substr(0, end);
  if (verb.empty() || verb.size() > 16) return cmd;
  for (unsigned char c : verb)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return cmd;
  cmd.verb_text = verb;
  cmd.verb = Verb::Unknown;
  for (const auto& [name, v] : kVerbs) {
    if (ascii_iequals(verb, name)) {
      cmd.verb = v;
      break;
    }
  }
  if (end != std::string_view::npos) {
    std::string_view arg = line.substr(end + 1);
    // Tolerate extra separators on both sides; RFC 5321 §4.1.1 has exactly one SP, but clients
    // add more and nothing is gained by refusing them.
    while (!arg.empty() && (arg.front() == ' ' || arg.front() == '\t')) arg.remove_prefix(1);
    while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t')) arg.remove_suffix(1);
    cmd.argument = arg;
  }
  return cmd;
}

bool strip_keyword_prefix(std::string_view& arg, std::string_view prefix) {
  if (arg.size() < prefix.size() || !ascii_iequals(arg.substr(0, prefix.size()), prefix)) return false;
  arg.remove_prefix(prefix.size());
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  return true;
}

std::string_view verb_name(Verb verb) {
  for (const auto& [name, v] : kVerbs)
    if (v == verb) return name;
  return verb == Verb::Unknown ? "UNKNOWN" : "INVALID";
}

}  // namespace taube::smtp
