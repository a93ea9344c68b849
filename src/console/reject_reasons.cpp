#include "console/reject_reasons.hpp"

namespace taube::console {

std::string reject_example(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  std::string out;
  for (std::size_t i = 0; i < text.size() && out.size() < 120; ++i) {
    const char c = text[i];
    const char close = c == '<' ? '>' : c == '[' ? ']' : '\0';
    if (close != '\0') {
      const auto end = text.find(close, i + 1);
      if (end != std::string_view::npos) {
        out += c;
        out += "\xE2\x80\xA6";  // …
        out += close;
        i = end;
        continue;
      }
    }
    // Control octets and non-ASCII from a client's own words are not the reason.
    out += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) ? '?' : c;
  }
  return out;
}

void RejectReasons::add(std::string_view verb, const smtp::Reply& reply) {
  std::string key = std::string(verb) + " " + std::to_string(reply.code);
  if (!reply.enhanced.empty()) key += " " + reply.enhanced;
  auto it = rows_.find(key);
  if (it == rows_.end()) {
    if (rows_.size() >= kMaxReasons) {
      auto& other = rows_["other"];
      ++other.count;
      if (other.example.empty()) other.example = "more kinds than the table keeps";
      return;
    }
    it = rows_.emplace(std::move(key), Row{0, reject_example(reply.text)}).first;
  }
  ++it->second.count;
}

}  // namespace taube::console
