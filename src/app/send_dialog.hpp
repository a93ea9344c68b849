// The `taube send -v` dialog (docs/send.md): the client session's transcript ("> cmd",
// "< reply", smtp/client/client_session.hpp) as the seeds' telnet example shows a session, with
// "C: " for the client, "S: " for the server and "*** " for what happens beside the protocol. Pure.
#pragma once

#include <string>
#include <vector>

namespace taube::app {

class SendDialog {
 public:
  // `content`: the message in stored form, shown where the transcript says
  // "> [content: N octets]" (dot-stuffed and ended by "." after DATA, RFC 5321 §4.5.2).
  explicit SendDialog(std::string content) : content_(std::move(content)) {}
  // Lines from..end of a transcript; `tls` (if not empty) is reported after the 220 to STARTTLS,
  // where the handshake happens (nothing may follow the 220 in plaintext: RFC 3207 §4.2).
  std::string lines(const std::vector<std::string>& transcript, std::size_t from = 0,
                    const std::string& tls = "");
  static std::string note(const std::string& text) { return "*** " + text + "\n"; }

 private:
  std::string content_lines() const;
  std::string content_;
  std::string last_command_;
};

}  // namespace taube::app
