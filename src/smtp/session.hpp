// ServerSession: the SMTP server state machine, sans I/O.
//
// Theory of operation
// -------------------
// The caller (src/net) feeds the octets it reads with receive() and sends what output() holds.
// The session never blocks and never performs I/O; when it needs an outside decision it pauses:
//   * a recipient (RCPT), VRFY or EXPN lookup  -> pending() == Pending::Lookup, answer with
//     resolve_lookup();
//   * the durable commit of a complete message -> pending() == Pending::Commit, answer with
//     commit_done().
// While paused, receive() consumes nothing, so replies to pipelined commands stay in order
// (RFC 2920 §3.1). Notifications that need no answer (a message starts, is aborted, the client
// sent bare newlines) are queued as events, taken with poll_event().
//
// States: Greeting (before start()) -> Connected (no HELO yet) -> Ready (HELO/EHLO done)
//   -> Mail (MAIL accepted) -> Rcpt (>= 1 recipient) -> Data | Bdat -> Ready ... -> Closed.
// Session state: HELO name, EHLO-ness, error count. Transaction state (optional Transaction):
// sender, parameters, recipients, the message being received.
// Resets of the transaction (RFC 5321 §4.1.4): RSET, HELO/EHLO, end of data (accepted or
// not), a failed BDAT chunk (RFC 3030 §2), and (later) STARTTLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/bdat_decoder.hpp"
#include "smtp/command_parser.hpp"
#include "smtp/dot_decoder.hpp"
#include "smtp/envelope.hpp"
#include "smtp/limits.hpp"
#include "smtp/reply.hpp"

namespace taube::smtp {

enum class VrfyMode { Disabled, CannotVerify, Verify };

struct SessionConfig {
  std::string hostname = "localhost";
  Limits limits;
  BareNewlinePolicy bare_newline = BareNewlinePolicy::Reject;
  bool reject_long_lines = false;  // text lines over limits.max_text_line
  VrfyMode vrfy = VrfyMode::CannotVerify;
  bool expn = false;
  bool etrn = false;  // advertise ETRN (answers 458 until a queue exists)
  bool require_helo = true;
};

enum class Pending { None, Lookup, Commit };
enum class LookupKind { Rcpt, Vrfy, Expn };

struct LookupRequest {
  LookupKind kind;
  Mailbox mailbox;  // for VRFY/EXPN without '@' the domain is empty
  std::string raw;  // the argument as sent (VRFY/EXPN)
};

enum class EventKind {
  MessageBegin,  // the body starts: open a spool file (envelope() is complete)
  MessageAbort,  // the message in progress is dropped (client error, RSET, reject): discard
  BareNewline,   // a message contained bare <CR>/<LF> (counts in the event), for the log
  Close,         // close the connection once output() has been sent
};

struct Event {
  EventKind kind;
  Reply reply;                // MessageAbort: the reply that was sent
  std::uint64_t bare_lf = 0;  // BareNewline
  std::uint64_t bare_cr = 0;
};

class ServerSession {
 public:
  ServerSession(const SessionConfig& config, ClientInfo client);

  // Queues the 220 greeting. (A server over its limits sends reject_connection() instead.)
  void start();
  // Queues a 421 and closes: used before start() when over the connection limit.
  void reject_connection(ReplyId id);

  // Feeds received octets. Returns how many were consumed: fewer than in.size() when the session
  // paused for a decision or closed; the caller keeps the rest and feeds it again after resuming.
  std::size_t receive(std::span<const char> in);

  // Reply octets to send (appended in order); the caller clears what it sent.
  std::string& output() { return out_; }
  // Decoded message content to append to the spool file; the caller clears what it wrote.
  std::string& body() { return body_; }
  std::optional<Event> poll_event();

  Pending pending() const { return pending_; }
  const LookupRequest& lookup() const { return lookup_; }
  // Answers the pending lookup. For RCPT a positive reply adds the recipient with its
  // destinations; for VRFY/EXPN the reply is sent as is.
  void resolve_lookup(Reply reply, std::vector<std::string> destinations = {});
  // Answers the pending commit: 250 (queued) or the storage error. The transaction ends.
  void commit_done(Reply reply);

  // The I/O layer's timers and shutdown. Both queue a 421 and a Close event.
  void timeout();
  void shutdown();

  // Per-client override of the configured bare-newline policy (the I/O layer relaxes Reject to
  // Note for clients in an exempt network). Takes effect at the next DATA.
  void set_bare_newline_policy(BareNewlinePolicy p) { bare_newline_ = p; }

  bool closed() const { return state_ == State::Closed; }
  bool in_transaction() const { return tx_.has_value(); }
  // True while message content is being received (DATA or BDAT).
  bool receiving_message() const { return state_ == State::Data || state_ == State::Bdat; }
  const Envelope& envelope() const { return tx_->envelope; }
  const ClientInfo& client() const { return client_; }
  std::size_t errors() const { return errors_; }
  // Decoded size of the message being received or just committed.
  std::uint64_t message_size() const { return message_size_; }

 private:
  enum class State { Greeting, Connected, Ready, Mail, Rcpt, Data, Bdat, Closed };
  struct Transaction {
    Envelope envelope;
    bool rcpt_attempted = false;
    bool bdat_error = false;  // a chunk was refused: consume the rest, then fail
  };

  std::size_t receive_commands(std::span<const char> in);
  std::size_t receive_data(std::span<const char> in);
  std::size_t receive_bdat(std::span<const char> in);
  void handle_line(std::string_view line);
  void handle_command(const Command& cmd);

  // One handler per verb; the command table in session.cpp maps verbs to them.
  void on_helo(const Command& cmd);
  void on_mail(const Command& cmd);
  void on_rcpt(const Command& cmd);
  void on_data(const Command& cmd);
  void on_bdat(const Command& cmd);
  void on_rset(const Command& cmd);
  void on_noop(const Command& cmd);
  void on_quit(const Command& cmd);
  void on_vrfy(const Command& cmd);
  void on_expn(const Command& cmd);
  void on_help(const Command& cmd);
  void on_etrn(const Command& cmd);
  void on_not_implemented(const Command& cmd);
  void on_unknown(const Command& cmd);
  void on_invalid(const Command& cmd);
  struct CommandSpec;
  static const CommandSpec& spec_for(Verb verb);

  void start_lookup(LookupKind kind, Mailbox mailbox, std::string_view raw);
  void bdat_chunk_complete();
  State idle_state() const;

  // Queues a reply to a command; 4xx/5xx count towards limits.max_errors.
  void reply(const Reply& r);
  void reply(ReplyId id, std::string_view arg = {});
  void reply_ehlo();
  void end_message();  // DATA or last BDAT complete: commit or reject
  void abort_message(const Reply& r);
  void reset_transaction();
  void close_with(ReplyId id);
  void push(Event e) { events_.push_back(std::move(e)); }

  const SessionConfig& cfg_;
  ClientInfo client_;
  State state_ = State::Greeting;
  Pending pending_ = Pending::None;
  LookupRequest lookup_;
  std::optional<Transaction> tx_;
  std::optional<DotDecoder> dot_;
  std::optional<BdatDecoder> bdat_;
  bool bdat_last_ = false;
  std::uint64_t bdat_chunk_size_ = 0;
  bool bdat_discard_ = false;  // the current chunk is refused: consume without storing
  std::uint64_t discard_remaining_ = 0;
  Reply bdat_reply_;           // reply to send after a refused chunk is consumed
  bool message_open_ = false;  // MessageBegin sent, no commit/abort yet
  std::optional<Recipient> pending_rcpt_;
  BareNewlinePolicy bare_newline_;
  std::uint64_t message_size_ = 0;
  std::string line_;            // a partial command line carried between receive() calls
  bool line_overflow_ = false;  // the current command line exceeded the limit: skip to LF
  std::string out_;
  std::string body_;
  std::deque<Event> events_;
  std::size_t errors_ = 0;
};

}  // namespace taube::smtp
