#include "queue/transcript_log.hpp"

#include "queue/listing.hpp"

namespace taube::queue {

namespace {

constexpr std::string_view kOpen = "=== ";
constexpr std::string_view kClose = " ===";

bool is_heading(std::string_view line) {
  return line.size() > kOpen.size() + kClose.size() && line.starts_with(kOpen) &&
         line.ends_with(kClose);
}

std::string section(const AttemptTranscript& a) {
  std::string out;
  if (!a.heading.empty()) out.append(kOpen).append(a.heading).append(kClose).push_back('\n');
  out += a.text;
  return out;
}

}  // namespace

std::string attempt_heading(std::int64_t unix_seconds, std::string_view relay) {
  std::string h = "attempt at " + utc_text(unix_seconds);
  if (!relay.empty()) {
    // One line whatever the relay text holds.
    std::string r(relay);
    for (char& c : r)
      if (c == '\n' || c == '\r') c = ' ';
    h += ", " + r;
  }
  return h;
}

std::vector<AttemptTranscript> split_attempts(std::string_view file) {
  std::vector<AttemptTranscript> out;
  while (!file.empty()) {
    const auto nl = file.find('\n');
    const std::string_view line = file.substr(0, nl);
    const std::string_view with_nl = file.substr(0, nl == std::string_view::npos ? nl : nl + 1);
    file.remove_prefix(with_nl.size());
    if (is_heading(line)) {
      out.push_back(
          {std::string(line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size())), {}});
      continue;
    }
    if (out.empty()) out.emplace_back();  // an old file: lines before any heading
    out.back().text.append(with_nl);
    if (nl == std::string_view::npos) out.back().text.push_back('\n');
  }
  return out;
}

std::string add_attempt(std::string_view existing, std::string_view heading,
                        std::string_view transcript, std::size_t keep, std::size_t max_octets) {
  auto sections = split_attempts(existing);
  AttemptTranscript next{std::string(heading), std::string(transcript)};
  if (!next.text.empty() && next.text.back() != '\n') next.text.push_back('\n');
  sections.push_back(std::move(next));
  std::size_t first = sections.size() > keep ? sections.size() - keep : 0;
  std::size_t octets = 0;
  for (std::size_t i = first; i < sections.size(); ++i) octets += section(sections[i]).size();
  while (first + 1 < sections.size() && octets > max_octets) {
    octets -= section(sections[first]).size();
    ++first;
  }
  std::string out;
  for (std::size_t i = first; i < sections.size(); ++i) out += section(sections[i]);
  return out;
}

std::string last_attempt(std::string_view file) {
  auto sections = split_attempts(file);
  return sections.empty() ? std::string() : std::move(sections.back().text);
}

}  // namespace taube::queue
