// QueueEnvelope: everything the outbound queue keeps about one message besides its content, and
// its on-disk text form. One item per message: the content once, this envelope beside it.
//
// Format (version 1): UTF-8 text, one record per line, fields separated by single spaces, every
// free-form value xtext-encoded (RFC 3461 §4: printable ASCII except '+' and '=' as is, the rest
// "+XX"), so no value can contain a space or a line break. The first line names the format and
// its version, the last line is "end": a file cut short by a crash never parses as complete.
//
//   taube-envelope 1
//   id <queue id>
//   arrival <unix seconds>
//   from <> | from <local> <domain> [literal]
//   param size=<n> body=7bit|8bitmime smtputf8=0|1 [ret=full|hdrs] [envid=<xtext>]
//   auth <user>                                   (authenticated submitter; optional)
//   client <ip> <helo>                            (optional)
//   hold <unix seconds>                           (on hold since; version 2 only, which is
//                                                 written for held items only)
//   rcpt <local> <domain> [key=value ...]        (one per recipient; keys below)
//   end
//
// Recipient keys: notify=<bits> orcpt=<type>;<xtext> original=<xtext> state=<state>
// attempts=<n> next=<unix seconds> route=<xtext> reply=<xtext>. Unknown records or keys are an
// error: a newer format gets a new version number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "smtp/wire/address.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::queue {

// Where a recipient stands (RFC 5321 §4.5.4: retry until delivered or given up).
enum class RecipientState {
  Pending,        // not yet tried
  Deferred,       // tried, failed temporarily, will be retried at next_attempt
  DelayNotified,  // deferred, and the sender was told of the delay (RFC 3461 §4.1 NOTIFY=DELAY)
  Delivered,      // the destination accepted it (250)
  Failed,         // given up: permanent failure or expired; a bounce was queued
};

struct QueuedRecipient {
  smtp::Mailbox mailbox;    // where to deliver
  std::string original;     // the address the client gave, when an alias led here (else empty)
  smtp::RcptParams params;  // NOTIFY and ORCPT as received (RFC 3461 §4)
  RecipientState state = RecipientState::Pending;
  std::uint32_t attempts = 0;
  std::int64_t next_attempt = 0;  // unix seconds
  std::string route;              // how it is (to be) delivered: "mx", "[host]:port", ...
  std::string last_reply;         // the last remote reply or local reason, one line
  friend bool operator==(const QueuedRecipient&, const QueuedRecipient&) = default;
};

struct QueueEnvelope {
  std::string id;
  std::int64_t arrival = 0;  // unix seconds
  smtp::Path sender;
  smtp::MailParams params;  // SIZE, BODY, SMTPUTF8, RET, ENVID (AUTH= is not kept)
  std::string auth_user;    // the authenticated submitter, empty if none
  std::string client_address, client_helo;
  // On hold (taube queue hold) since these unix seconds; 0: not held. A held item is not
  // delivered nor expired until released (Postfix's hold queue).
  std::int64_t held = 0;
  std::vector<QueuedRecipient> recipients;
};

bool operator==(const QueueEnvelope& a, const QueueEnvelope& b);

const char* to_string(RecipientState s);

std::string encode_envelope(const QueueEnvelope& env);
// Errors name the line: "line 4: bad arrival time".
tl::expected<QueueEnvelope, std::string> decode_envelope(std::string_view text);

}  // namespace taube::queue
