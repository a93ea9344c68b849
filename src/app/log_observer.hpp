// LogObserver: the session events as log lines in Postfix's shapes, so that fail2ban filters,
// pflogsumm and log parsers written for Postfix find their way ("connect from", "NOQUEUE:
// reject: RCPT from", "QUEUEID: client=", "disconnect from ... commands=", ...).
#pragma once

#include "events/observer.hpp"

namespace taube::app {

class LogObserver final : public events::Observer {
 public:
  void connected(const events::Connected& e) override;
  void refused(const events::Refused& e) override;
  void rejected(const events::Rejected& e) override;
  void tls_established(const events::TlsEstablished& e) override;
  void tls_failed(const events::TlsFailed& e) override;
  void auth_succeeded(const events::AuthSucceeded& e) override;
  void auth_failed(const events::AuthFailed& e) override;
  void transaction(const events::Transaction& e) override;
  void bare_newlines(const events::BareNewlines& e) override;
  void disconnected(const events::Disconnected& e) override;
  void delivery(const events::Delivery& e) override;
  void queue_note(const events::QueueNote& e) override;
};

// "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5" (Postfix's order of commands).
std::string command_counts_text(const smtp::CommandCounts& c);
// "554 5.7.1 <x@y>: Relay access denied" (the first line).
std::string reply_line(const smtp::Reply& r);

}  // namespace taube::app
