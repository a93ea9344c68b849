// LogObserver: the session and queue events as log lines in Postfix's shapes, so that fail2ban
// filters, pflogsumm and log parsers written for Postfix find their way ("connect from",
// "NOQUEUE: reject: RCPT from", "QUEUEID: client=", "disconnect from ... commands=", the
// per-recipient "to=<..>, relay=.., delay=.., delays=a/b/c/d, dsn=.., status=.." line), each under
// the tag of the Postfix program that writes it (taube/smtpd, taube/smtp, ...). With format =
// "json" every line also carries the event's fields. docs/logging.md lists every shape.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "app/log_output.hpp"
#include "events/observer.hpp"

namespace taube::app {

class LogObserver final : public events::Observer {
 public:
  explicit LogObserver(LogOutput& out) : out_(out) {}

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
  void outbound_opened(const events::OutboundOpened& e) override;

 private:
  void write(LogTag t, spdlog::level::level_enum level, const LogFields& f, std::string_view text) {
    out_.write(t, level, f, text);
  }
  LogFields fields(std::string_view event) const { return LogFields(out_.json(), event); }
  // The client fields every smtpd event carries: client="name[ip]", and tls when known.
  void client_fields(LogFields& f, const events::Peer& p) const;

  LogOutput& out_;
  // "TLSv1.3" per open connection that made a TLS handshake, keyed by the client's address and
  // port (unique among open connections): the json "tls" key of its later lines.
  std::map<std::pair<std::string, std::uint16_t>, std::string> tls_;
};

// "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5" (Postfix's order of commands).
std::string command_counts_text(const smtp::CommandCounts& c);
// "554 5.7.1 <x@y>: Relay access denied" (the first line).
std::string reply_line(const smtp::Reply& r);
// Postfix's delay format: two significant digits at most, no exponent ("0.12", "1.3", "14").
std::string delay_text(double d);
// The Postfix program that writes a delivery line: local for Maildir deliveries, lmtp or smtp by
// the agent, qmgr for expiry (Postfix's queue manager returns expired mail).
LogTag delivery_tag(const events::Delivery& e);

}  // namespace taube::app
