// SessionPolicy: answers a ServerSession's policy decisions (MAIL, RCPT, VRFY, EXPN) from the
// recipient and sender policies. The one function the inbound connection and the in-process
// dialog runner both call, so "the same dialog, two runners" compares the server with itself.
#pragma once

#include "policy/client_facts.hpp"
#include "policy/recipient_policy.hpp"
#include "policy/sender_policy.hpp"
#include "smtp/server/server_session.hpp"

namespace taube::policy {

class SessionPolicy {
 public:
  SessionPolicy(const RecipientPolicy& recipients, SenderRules senders)
      : recipients_(recipients), senders_(senders) {}

  // Answers the session's pending MAIL, RCPT, VRFY or EXPN. False when none of them is pending
  // (nothing pending, or the commit / AUTH, which are not policy's).
  bool answer(smtp::ServerSession& session, const ClientFacts& client) const;

  const RecipientPolicy& recipients() const { return recipients_; }

 private:
  const RecipientPolicy& recipients_;
  SenderRules senders_;
};

// The facts of a session's client: its address and what the session learnt (HELO, TLS, AUTH).
ClientFacts facts_of(const smtp::ServerSession& session, const inet::IpAddress& address);

}  // namespace taube::policy
