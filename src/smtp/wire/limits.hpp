// Every protocol limit is named here, configurable, and enforced in the core (tests cover N and
// N+1).
#pragma once

#include <cstddef>
#include <cstdint>

namespace taube::smtp {

struct Limits {
  // RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including <CRLF>.
  std::size_t max_command_line = 512;
  // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including <CRLF>.
  std::size_t max_text_line = 1000;
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
  std::size_t max_path = 256;
  // RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
  std::size_t max_local_part = 64;
  // RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
  std::size_t max_domain = 255;
  // RFC 5321 §4.5.3.1.8 requires at least 100; Postfix defaults to 1000.
  std::size_t max_recipients = 1000;
  // SIZE advertised in EHLO (RFC 1870); 0 means no limit is enforced or advertised with a value.
  std::uint64_t max_message_size = 50ull * 1024 * 1024;
  // Errors (4xx/5xx replies to commands) before the session is closed with 421 (RFC 5321 §4.2.5
  // lets a server close after repeated errors; Postfix's smtpd_hard_error_limit is 20).
  std::size_t max_errors = 20;
  // RFC 5321 §6.3: more Received: headers than this is a mail loop: 554 5.4.6 at the end of
  // data (Postfix's hopcount_limit is 50). 0: no limit.
  std::size_t max_received_headers = 50;
};

}  // namespace taube::smtp
