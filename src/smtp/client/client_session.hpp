// ClientSession: the SMTP (and LMTP) client state machine, sans I/O; the counterpart of
// smtp/server/server_session.hpp, for the queue's deliveries to other hosts.
//
// Theory of operation
// -------------------
// The caller (src/net, or a test driver) looks at step() and does what it says: write
// take_output(), read and pass the octets to received(), do the TLS handshake, hand over a
// message and its content. The session never blocks, performs no I/O and reads no clock; it tells
// the caller which RFC 5321 §4.5.3.2 timeout applies to what it waits for (timeout()).
//
// Replies are matched to commands through a queue of what each sent command expects, in order,
// so that a pipelined group (RFC 2920: MAIL, every RCPT and DATA in one write) and one command at
// a time are the same code. Replies are read by the wire codec's ReplyParser; once its framing is
// lost (a parse error) the connection is treated as broken.
//
// Connection: 220 greeting -> EHLO (LHLO for LMTP) -> [STARTTLS -> handshake -> EHLO again]
//   -> [AUTH] -> Ready. EHLO refused with 5xx (not for LMTP): HELO, without extensions.
// Per message (send()): local checks against the peer's extensions first (SIZE, SMTPUTF8), then
// MAIL / RCPT... / DATA or BDAT; the outcome of every recipient is in take_result(). After a
// refused MAIL, or when no recipient was accepted, RSET resets the transaction for the next one.
// 421 at any time, a broken reply stream or closed() ends the session: the unanswered recipients
// of a message in flight are Deferred, or Unknown once the end of its data was sent.
//
// Policy choices (documented where they apply, in client_session.cpp and client_transaction.cpp):
//  * TLS policy failures (Required but not offered, STARTTLS refused, handshake failed) are
//    Deferred, never Failed: a mismatch of policy is no proof that the message cannot be
//    delivered (another MX, or the next attempt, may do). Status 4.7.10 "encryption needed"
//    (RFC 5248 registry) when not offered or refused; 4.7.5 "cryptographic failure" for the
//    handshake. Opportunistic TLS continues in plaintext after a refused STARTTLS; falling back
//    after a failed handshake (a new connection) is the caller's decision.
//  * BDAT (RFC 3030) only when the peer offers CHUNKING and PIPELINING, the dialect is SMTP and
//    config.use_bdat is set: the chunks are then pipelined, so content() never waits for a reply.
//    LMTP always uses DATA: RFC 2033 does not say how many replies follow a failed chunk.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sasl/client_mechanism.hpp"
#include "smtp/wire/address.hpp"
#include "smtp/wire/dialect.hpp"
#include "smtp/wire/dot_encoder.hpp"
#include "smtp/wire/esmtp_params.hpp"
#include "smtp/wire/extensions.hpp"
#include "smtp/wire/reply.hpp"
#include "smtp/wire/reply_parser.hpp"

namespace taube::smtp::client {

enum class TlsPolicy { None, Opportunistic, Required };  // Opportunistic: STARTTLS when offered

// RFC 5321 §4.5.3.2. `block` applies while the session waits for content to write (Content).
struct ClientTimeouts {
  std::chrono::seconds greeting{300}, helo{300}, starttls{300}, auth{300}, mail{300}, rcpt{300},
      data{120}, block{180}, final_dot{600}, rset{300}, quit{60};
};

struct ClientConfig {
  std::string helo_name;
  Dialect dialect = Dialect::Smtp;
  TlsPolicy tls = TlsPolicy::Opportunistic;
  bool tls_active = false;  // implicit TLS (RFC 8314): already encrypted, never STARTTLS
  // AUTH (RFC 4954) after EHLO (and TLS); a peer that offers no usable mechanism is a Deferred
  // session failure.
  std::optional<sasl::ClientCredentials> credentials;
  bool plaintext_auth = false;  // AUTH without TLS only if set
  // SCRAM-SHA-256's cryptography (crypto::OpenSslSasl); without it only PLAIN and LOGIN are used.
  sasl::ClientCrypto* sasl_crypto = nullptr;
  ClientTimeouts timeouts;
  ReplyParserLimits reply_limits;
  bool use_bdat = true;  // BDAT when the peer allows (see above)
  // BDAT chunk size on the wire: content is collected into chunks of exactly this many octets
  // (the last one shorter), so the output does not depend on how content() was called and the
  // peer's replies (one per chunk) stay few.
  std::size_t bdat_chunk = 64 * 1024;
};

struct OutboundRecipient {
  Mailbox mailbox;
  RcptParams params;
};

// params.size: the content's size as the caller knows it (octets in stored LF form: a slight
// underestimate of the CRLF wire size, which RFC 1870 §3 tolerates); sent as SIZE= and checked
// against the peer's limit. params.body, smtputf8, ret, envid: as the message was received.
struct OutboundMessage {
  Path sender;
  MailParams params;
  std::vector<OutboundRecipient> recipients;
};

// Unknown: the connection was lost after the end of data was sent, before its reply.
enum class Outcome { Accepted, Deferred, Failed, Unknown };

struct RecipientResult {
  std::size_t index = 0;  // into OutboundMessage::recipients
  Outcome outcome = Outcome::Deferred;
  std::string reply;   // one line: "550 5.1.1 <b@x>: unknown", or a local reason in that form
  std::string status;  // RFC 3463 "5.1.1"
  bool local = false;  // the reply is Taube's own (no command answered it): no Remote-MTA
  friend bool operator==(const RecipientResult&, const RecipientResult&) = default;
};

struct MessageResult {
  std::vector<RecipientResult> recipients;  // one per recipient, in order
  bool dsn_passed_on = false;  // the peer offers DSN: NOTIFY/ORCPT/RET/ENVID went along
  friend bool operator==(const MessageResult&, const MessageResult&) = default;
};

struct SessionFailure {
  Outcome outcome = Outcome::Deferred;  // Deferred or Failed
  std::string reply;                    // the peer's reply (one line) or a local reason
  std::string status;                   // RFC 3463
  std::string stage;  // "greeting","ehlo","helo","starttls","tls","auth","mail","rcpt","data",
                      // "content","end-of-data","rset","idle","quit"
  bool tls_failed = false;             // the TLS handshake failed (tls_failed())
  bool before_any_transaction = true;  // no MAIL was sent on this connection
  friend bool operator==(const SessionFailure&, const SessionFailure&) = default;
};

enum class Step {
  Read,      // flush output(), then read from the peer and call received()
  StartTls,  // flush output(), do the TLS handshake, then tls_established() or tls_failed()
  Ready,     // established and idle (results may wait in take_result()): send() or quit()
  Content,   // the peer awaits the content: content(chunk) any number of times, then content_end()
  Done,      // flush output() and close; failure() tells why if it was not a clean QUIT
};

class ClientSession {
 public:
  explicit ClientSession(ClientConfig config);
  ~ClientSession();
  ClientSession(ClientSession&&) noexcept;
  ClientSession& operator=(ClientSession&&) noexcept;
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  Step step() const;
  // Octets to write, in order. Take them after every call (content() appends the encoded chunk:
  // taking it each time keeps memory at one chunk).
  std::string take_output();
  void received(std::string_view octets);  // any split
  // EOF, a read or write error, a timeout: the message in flight is settled (unanswered
  // recipients Deferred, Unknown after the end of data was sent), then Done. Clean during QUIT.
  void closed(std::string reason);
  void tls_established();
  void tls_failed(std::string reason);   // Done, failure().tls_failed
  void send(OutboundMessage message);    // only in Ready (ignored otherwise)
  void content(std::string_view chunk);  // stored form: LF line endings, no dot-stuffing
  void content_end();
  void quit();  // only in Ready (ignored otherwise): QUIT, then Done at 221 or close

  // The results of finished messages, oldest first (one per send()).
  std::optional<MessageResult> take_result();
  const std::optional<SessionFailure>& failure() const { return failure_; }
  // The timeout for what the session waits for now; 0 in Ready and Done (the caller's idle
  // policy applies).
  std::chrono::seconds timeout() const;

  const ExtensionSet& extensions() const { return extensions_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }
  const std::string& greeting() const { return greeting_; }
  // "> EHLO x" / "< 250-..." lines, control characters shown as '?'; AUTH data redacted
  // ("> AUTH PLAIN ****", "> ****"); content as one line "> [content: N octets]". At most
  // kTranscriptLines lines / kTranscriptOctets octets, then one "[... truncated]".
  const std::vector<std::string>& transcript() const { return transcript_; }
  // Starts a new transcript (the bounds apply afresh): a connection that carries many messages
  // keeps one transcript per message, and none holds another message's envelope. Returns the
  // lines so far.
  std::vector<std::string> restart_transcript();
  static constexpr std::size_t kTranscriptLines = 200;
  static constexpr std::size_t kTranscriptOctets = 16 * 1024;

 private:
  enum class State {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Handshake,
    Auth,
    Ready,
    Busy,
    Content,
    Quit,
    Done
  };
  // What a sent command expects as its reply.
  enum class Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    DataAbort,
    Bdat,
    EndOfData,
    Rset,
    Quit
  };
  struct Pending {
    Expect what;
    std::size_t index = 0;  // Rcpt: into the message's recipients; EndOfData: into accepted
  };
  struct Transaction;

  // client_session.cpp: replies, connection setup, failures, transcript.
  void process_replies();
  void on_reply(const Pending& p, const ParsedReply& r);
  void on_greeting(const ParsedReply& r);
  void on_ehlo(const ParsedReply& r, bool helo);
  void on_starttls(const ParsedReply& r);
  void on_auth(const ParsedReply& r);
  void after_hello();
  void start_auth();
  void auth_abort(std::string reason);
  void send_hello();
  void become_ready();
  void command(std::string line, Expect what, std::size_t index = 0, std::string_view logged = {});
  // Ends the session. `polite`: QUIT goes out first (the peer still listens).
  void fail(Outcome outcome, std::string reply, std::string status, std::string stage, bool polite);
  void fail_reply(const ParsedReply& r, std::string stage, bool polite);
  void broken(std::string reason, std::string status);  // connection or reply stream lost
  void log(std::string line);
  std::string_view stage_of(Expect e) const;

  // client_transaction.cpp: one message.
  void start_transaction();
  void on_tx_reply(const Pending& p, const ParsedReply& r);
  void envelope_done();
  void settle(std::size_t index, Outcome outcome, std::string reply, std::string status,
              bool local = false);
  void settle_all_open(Outcome outcome, const std::string& reply, const std::string& status,
                       bool local = false);
  void settle_from_reply(std::size_t index, const ParsedReply& r);
  void finish_transaction();
  void send_rset();
  void emit_bdat(std::string_view data, bool last);
  // The connection ended with the message in flight: Deferred, Unknown after the end of data.
  void settle_lost(const std::string& reason, const std::string& status);

  ClientConfig config_;
  State state_ = State::Greeting;
  ReplyParser parser_;
  std::deque<Pending> expect_;
  std::string out_;
  std::optional<SessionFailure> failure_;
  ExtensionSet extensions_;
  bool tls_active_ = false;
  bool authenticated_ = false;
  bool any_transaction_ = false;
  std::string greeting_;
  std::vector<std::string> transcript_;
  std::size_t transcript_octets_ = 0;
  bool transcript_full_ = false;
  std::unique_ptr<sasl::ClientMechanism> mech_;
  std::optional<std::string> auth_pending_initial_;  // initial response too long for the line
  std::optional<std::string> auth_abort_;  // we cancelled the exchange ("*"), for this reason
  bool starttls_refused_ = false;          // Opportunistic: continue in plaintext
  std::unique_ptr<Transaction> tx_;
  std::deque<MessageResult> results_;
};

// The one-line form of a reply: "550 5.1.1 text", lines joined with SP, control characters as
// '?', at most kMaxReplyLine octets (then "...").
inline constexpr std::size_t kMaxReplyLine = 1000;
std::string reply_line(const Reply& reply);
// The reply's enhanced code when its class matches the reply's, else "C.0.0" (RFC 3463 §3.1).
std::string reply_status(const Reply& reply);
// Accepted for 2xx, Deferred for 4xx, Failed for 5xx (and anything else).
Outcome reply_outcome(const Reply& reply);

}  // namespace taube::smtp::client
