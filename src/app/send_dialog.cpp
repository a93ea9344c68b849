#include "app/send_dialog.hpp"

namespace taube::app {

std::string SendDialog::lines(const std::vector<std::string>& t, std::size_t from,
                              const std::string& tls) {
  std::string out;
  for (std::size_t i = from; i < t.size(); ++i) {
    const std::string& l = t[i];
    if (l.rfind("> [content:", 0) == 0) {
      out += content_lines();
    } else if (l.rfind("> ", 0) == 0) {
      out += "C: " + l.substr(2) + "\n";
      last_command_ = l.substr(2);
    } else if (l.rfind("< ", 0) == 0) {
      out += "S: " + l.substr(2) + "\n";
      if (last_command_ == "STARTTLS" && l.rfind("< 220", 0) == 0 && !tls.empty())
        out += note("TLS started: " + tls);
    } else {
      out += l + "\n";  // "[... truncated]"
    }
  }
  return out;
}

std::string SendDialog::content_lines() const {
  const bool data = last_command_ == "DATA";
  std::string out = data ? "" : note("content in BDAT chunks (RFC 3030):");
  std::size_t start = 0;
  while (start < content_.size()) {
    auto nl = content_.find('\n', start);
    if (nl == std::string::npos) nl = content_.size();
    std::string line = content_.substr(start, nl - start);
    if (data && !line.empty() && line[0] == '.') line.insert(0, ".");  // RFC 5321 §4.5.2
    out += "C: " + line + "\n";
    start = nl + 1;
  }
  if (data) out += "C: .\n";
  return out;
}

}  // namespace taube::app
