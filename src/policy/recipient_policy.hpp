// Recipient policy: resolution (the Directory) plus client facts -> a verdict kind with the
// destinations of an accepted recipient. Also the answers to VRFY and EXPN. Both the inbound
// connection (src/net) and the in-process dialog runner call these functions, so the dialogs
// test the server's own policy, not a copy of it.
#pragma once

#include <string>
#include <vector>

#include "inet/cidr.hpp"
#include "policy/client_facts.hpp"
#include "policy/directory.hpp"
#include "smtp/server/verdicts.hpp"

namespace taube::policy {

struct RelayRules {
  // Clients allowed to relay without AUTH (Postfix's mynetworks). Empty by default: never an
  // open relay (RFC 5321 §3.6.2, RFC 2505).
  std::vector<inet::Cidr> networks;
};

class RecipientPolicy {
 public:
  RecipientPolicy(const Directory& directory, RelayRules rules)
      : dir_(directory), rules_(std::move(rules)) {}

  // Local recipients: their Maildirs (250, or 251 for an alias with one target). Other domains:
  // queued for relaying when the client is authenticated or in a relay network and the domain
  // is a plain domain (no address literals, RFC 5321 §4.1.3: relaying to literals is refused);
  // otherwise RelayDenied.
  smtp::RcptVerdict decide(const ClientFacts& client, const smtp::Mailbox& rcpt) const;

  // VRFY and EXPN (RFC 5321 §3.5). A bare name means that name at the first local domain.
  smtp::AddressVerdict verify(const smtp::Mailbox& who, bool expand) const;

  bool relay_client(const ClientFacts& client) const;
  const Directory& directory() const { return dir_; }

 private:
  const Directory& dir_;
  RelayRules rules_;
};

}  // namespace taube::policy
