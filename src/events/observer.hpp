// The observer seam (ARCHITECTURE.md practice 19): one hook per session event. The inbound
// connection reports what happened; the Postfix-shaped log line is one subscriber, metrics and
// the web console's live view are the next. Events are plain values; subscribers must not block
// (they run on the event loop) and must not throw.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smtp/server/server_session.hpp"
#include "smtp/wire/reply.hpp"

namespace taube::events {

// Who is on the other end, as the log shows it: "name[address]" (name "unknown" until reverse
// DNS exists, like Postfix without a PTR record), and the listener it came in on.
struct Peer {
  std::string address;
  std::string name = "unknown";
  std::uint16_t port = 0;
  std::string listener;  // "127.0.0.1:25"
  // A local submission (net/submit_server.hpp): the peer's uid and pid (SO_PEERCRED); -1 for
  // network clients.
  std::int64_t uid = -1;
  std::int64_t pid = -1;
};

struct Connected {
  Peer peer;
  bool via_proxy = false;  // the address came from a PROXY protocol header
};

// The connection was refused before any session: limits, ban, shutdown, pregreet, PROXY.
struct Refused {
  Peer peer;
  std::string reason;  // "too many connections", "PROXY header from an untrusted network", ...
  smtp::Reply reply;   // what the client was told (code 0: nothing, the connection was closed)
};

// A command got a 4xx/5xx reply.
struct Rejected {
  Peer peer;
  smtp::Verb verb = smtp::Verb::Invalid;
  smtp::Reply reply;
  std::string from, to, helo;
  bool esmtp = false;
};

struct TlsEstablished {
  Peer peer;
  std::string version;  // "TLSv1.3"
  std::string cipher;
};

struct TlsFailed {
  Peer peer;
  std::string reason;
};

struct AuthSucceeded {
  Peer peer;
  std::string mechanism, username;
};

struct AuthFailed {
  Peer peer;
  std::string mechanism, username;
  bool banned = false;  // this failure banned the address
};

// A message was committed (or its commit failed) at the end of data.
struct Transaction {
  Peer peer;
  std::string queue_id;
  std::string from;                    // "" for <>
  std::vector<std::string> to;         // every accepted recipient
  std::vector<std::string> mailboxes;  // recipients delivered into local Maildirs
  std::vector<std::string> relayed;    // recipients handed to the outbound queue
  std::uint64_t size = 0;
  std::string helo;
  std::string protocol;  // ESMTP, ESMTPSA, UTF8SMTPS, LMTP ...
  std::string sasl_method, sasl_username;
  smtp::Reply reply;  // what the client was told
  bool accepted = false;
  double seconds = 0;  // from the start of the message to the reply
};

// Content that did not follow the strict line rules (bare newlines), for the operator.
struct BareNewlines {
  Peer peer;
  std::string helo;
  std::uint64_t bare_lf = 0, bare_cr = 0;
};

struct Disconnected {
  Peer peer;
  smtp::CommandCounts counts;
  // The connection ended without QUIT or our 421, in the middle of `last` (Postfix: "lost
  // connection after DATA").
  bool lost = false;
  smtp::Verb last = smtp::Verb::Invalid;
  bool timed_out = false;
  // The session was closed for reaching limits.max_errors (Postfix: "too many errors after
  // RCPT from name[ip]", what fail2ban's Postfix filter bans on).
  bool too_many_errors = false;
};

// The outbound queue (Postfix's qmgr/smtp/bounce lines).

// One recipient's outcome of a delivery attempt, or its expiry.
struct Delivery {
  std::string queue_id;
  std::string to, orig_to;  // orig_to: the address the client gave, when an alias led here
  std::string relay;        // "mx.remote.test[192.0.2.1]:25", "none"
  double delay = 0;         // seconds since arrival
  // Postfix's four stages: before the queue, in the queue, connection setup, transmission.
  double delays[4] = {0, 0, 0, 0};
  std::string dsn;     // "2.0.0"
  std::string status;  // sent | deferred | bounced | expired
  std::string reply;   // the remote reply or the local reason
  // The delivery agent, as the log tags it: "smtp", "lmtp", "local" ("": smtp, or local for
  // relay "local").
  std::string agent;
  // The recipient's attempts so far, this one included (1: the first); 0 for a local notice.
  std::uint32_t attempt = 0;
};

// Something the queue manager reports about a message: "from=<a@b>, size=N, nrcpt=N (queue
// active)", "removed", "sender non-delivery notification: ID", a corrupt item moved aside.
struct QueueNote {
  std::string queue_id;
  std::string text;
  bool warning = false;
  std::string tag = "qmgr";  // the Postfix program the line imitates: qmgr, smtp, bounce
};

// The queue opened a connection to a next hop, or failed to: the TCP (or unix socket) connect,
// implicit TLS or STARTTLS, the greeting, EHLO/LHLO and AUTH to a smarthost. One event per
// try (an opportunistic-TLS failure retried in plaintext is two).
struct OutboundOpened {
  std::string relay;  // "mx.remote.test[192.0.2.1]:25"
  // ok | refused | timeout | unreachable | tls_failed | rejected (the server refused the
  // session: 4xx/5xx greeting, EHLO or AUTH) | lost (closed under the opening) | cut (our
  // shutdown) | error (anything else)
  std::string result;
  std::string reason;       // why it failed ("" when ok)
  std::string tls_version;  // "TLSv1.3" when ok over TLS, else ""
  std::string tls_cipher;
  double seconds = 0;  // how long the opening took
};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void connected(const Connected&) {}
  virtual void refused(const Refused&) {}
  virtual void rejected(const Rejected&) {}
  virtual void tls_established(const TlsEstablished&) {}
  virtual void tls_failed(const TlsFailed&) {}
  virtual void auth_succeeded(const AuthSucceeded&) {}
  virtual void auth_failed(const AuthFailed&) {}
  virtual void transaction(const Transaction&) {}
  virtual void bare_newlines(const BareNewlines&) {}
  virtual void disconnected(const Disconnected&) {}
  virtual void delivery(const Delivery&) {}
  virtual void queue_note(const QueueNote&) {}
  virtual void outbound_opened(const OutboundOpened&) {}
};

// Fans every event out to the subscribers, in the order they were added.
class ObserverList final : public Observer {
 public:
  void add(Observer& o) { subscribers_.push_back(&o); }

  void connected(const Connected& e) override { each(&Observer::connected, e); }
  void refused(const Refused& e) override { each(&Observer::refused, e); }
  void rejected(const Rejected& e) override { each(&Observer::rejected, e); }
  void tls_established(const TlsEstablished& e) override { each(&Observer::tls_established, e); }
  void tls_failed(const TlsFailed& e) override { each(&Observer::tls_failed, e); }
  void auth_succeeded(const AuthSucceeded& e) override { each(&Observer::auth_succeeded, e); }
  void auth_failed(const AuthFailed& e) override { each(&Observer::auth_failed, e); }
  void transaction(const Transaction& e) override { each(&Observer::transaction, e); }
  void bare_newlines(const BareNewlines& e) override { each(&Observer::bare_newlines, e); }
  void disconnected(const Disconnected& e) override { each(&Observer::disconnected, e); }
  void delivery(const Delivery& e) override { each(&Observer::delivery, e); }
  void queue_note(const QueueNote& e) override { each(&Observer::queue_note, e); }
  void outbound_opened(const OutboundOpened& e) override { each(&Observer::outbound_opened, e); }

 private:
  template <class E>
  void each(void (Observer::*hook)(const E&), const E& e) {
    for (Observer* o : subscribers_) (o->*hook)(e);
  }
  std::vector<Observer*> subscribers_;
};

// "unknown[192.0.2.1]"
inline std::string client_label(const Peer& p) {
  return p.name + "[" + p.address + "]";
}

}  // namespace taube::events
