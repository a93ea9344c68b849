#include "queue/inflight.hpp"

#include <charconv>

#include "queue/attempt.hpp"

namespace taube::queue {
namespace {

constexpr std::string_view kMagic = "taube-inflight 1 ";

bool safe_word(std::string_view w) {
  if (w.empty()) return false;
  for (char c : w)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return true;
}

template <typename T>
bool number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view next_word(std::string_view& s) {
  const auto sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
  return w;
}

}  // namespace

std::string encode_mark(const InflightMark& m) {
  std::string relay = m.relay.empty() ? "-" : m.relay;
  for (char& c : relay)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) c = '_';
  std::string out(kMagic);
  out += std::to_string(m.time) + " " + m.name + " " + relay + " ";
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(m.recipients[i].first) + ":" + std::to_string(m.recipients[i].second);
  }
  out += '\n';
  return out;
}

std::optional<InflightMark> parse_mark(std::string_view line) {
  if (line.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  line.remove_prefix(kMagic.size());
  InflightMark m;
  const auto time = next_word(line);
  const auto name = next_word(line);
  const auto relay = next_word(line);
  const auto rcpts = next_word(line);
  if (!line.empty() || !number(time, m.time) || !safe_word(name) || !safe_word(relay) ||
      rcpts.empty() || name.find('/') != std::string_view::npos)
    return std::nullopt;
  m.name = std::string(name);
  m.relay = relay == "-" ? std::string() : std::string(relay);
  std::string_view rest = rcpts;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view one = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto colon = one.find(':');
    std::size_t index = 0;
    std::uint32_t attempts = 0;
    if (colon == std::string_view::npos || !number(one.substr(0, colon), index) ||
        !number(one.substr(colon + 1), attempts))
      return std::nullopt;
    m.recipients.emplace_back(index, attempts);
    if (comma != std::string_view::npos && rest.empty()) return std::nullopt;  // trailing ','
  }
  return m;
}

std::vector<InflightMark> parse_marks(std::string_view text) {
  std::vector<InflightMark> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    // A last line without its LF was torn by the crash: not a whole mark.
    if (nl == std::string_view::npos) break;
    if (auto m = parse_mark(text.substr(0, nl))) out.push_back(std::move(*m));
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::size_t> unrecorded(const InflightMark& m, const QueueEnvelope& env) {
  std::vector<std::size_t> out;
  for (const auto& [index, attempts] : m.recipients) {
    if (index >= env.recipients.size()) continue;
    const auto& r = env.recipients[index];
    if (r.attempts == attempts && is_queued(r.state)) out.push_back(index);
  }
  return out;
}

}  // namespace taube::queue
