// Recipient policy: resolution (the Directory) plus client facts -> a verdict kind with the
// destinations of an accepted recipient. Also the answers to VRFY and EXPN. Both the inbound
// connection (src/net) and the in-process dialog runner call these functions, so the dialogs
// test the server's own policy, not a copy of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inet/cidr.hpp"
#include "policy/client_facts.hpp"
#include "policy/directory.hpp"
#include "policy/srs.hpp"
#include "smtp/server/verdicts.hpp"

namespace taube::policy {

struct RelayRules {
  // Clients allowed to relay without AUTH (Postfix's mynetworks). Empty by default: never an
  // open relay (RFC 5321 §3.6.2, RFC 2505).
  std::vector<inet::Cidr> networks;
  // SRS (policy/srs.hpp; docs/outbound.md "SRS"): null or disabled = none. When on, an SRS0/SRS1
  // local part at the SRS domain is a bounce address: reversed and relayed when it verifies,
  // refused (550 5.1.1) when it does not. `today` is the day to check its time stamp against
  // (days since the epoch; the I/O layer gives the clock, tests a fixed day).
  std::shared_ptr<const Srs> srs;
  std::function<std::int64_t()> today;
};

class RecipientPolicy {
 public:
  // An SRS configuration without a domain gets the directory's first local domain.
  RecipientPolicy(const Directory& directory, RelayRules rules);

  // Local recipients: their Maildirs (250, or 251 for an alias with one target). Other domains:
  // queued for relaying when the client is authenticated or in a relay network and the domain
  // is a plain domain (no address literals, RFC 5321 §4.1.3: relaying to literals is refused);
  // otherwise RelayDenied.
  smtp::RcptVerdict decide(const ClientFacts& client, const smtp::Mailbox& rcpt) const;

  // VRFY and EXPN (RFC 5321 §3.5). A bare name means that name at the first local domain.
  smtp::AddressVerdict verify(const smtp::Mailbox& who, bool expand) const;

  bool relay_client(const ClientFacts& client) const;

  // The reverse-path for the queued copies of a message, when SRS rewrites it; nullopt keeps the
  // client's. Rewritten when SRS is on, some queued recipient is forwarded (an alias target in
  // another domain, or a reversed SRS address: a queue destination other than the recipient
  // itself), and the sender is not <>, not in a local domain, the SRS domain or exclude_domains,
  // and not an address literal. The queue keeps one reverse-path per message, so the relayed
  // recipients of such a message get the SRS sender too (as with postsrsd, which rewrites every
  // non-local sender). `day`: srs_day() of the message's arrival.
  std::optional<smtp::Path> queue_sender(const smtp::Envelope& env, std::int64_t day) const;
  const Directory& directory() const { return dir_; }

 private:
  // An SRS bounce address at the SRS domain: its verdict; nullopt for any other recipient.
  std::optional<smtp::RcptVerdict> decide_srs(const smtp::Mailbox& rcpt) const;
  smtp::RcptVerdict decide_plain(const ClientFacts& client, const smtp::Mailbox& rcpt) const;
  bool srs_on() const { return rules_.srs && rules_.srs->config().enabled; }

  const Directory& dir_;
  RelayRules rules_;
};

}  // namespace taube::policy
