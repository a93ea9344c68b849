#include "policy/session_policy.hpp"

namespace taube::policy {

ClientFacts facts_of(const smtp::ServerSession& session, const inet::IpAddress& address) {
  const auto& c = session.client();
  return {address, c.helo, c.esmtp, c.tls, c.auth_user};
}

bool SessionPolicy::answer(smtp::ServerSession& s, const ClientFacts& client) const {
  switch (s.pending()) {
    case smtp::Pending::Mail:
      s.resolve_mail(
          decide_sender(senders_, recipients_.directory(), client, s.mail_request().sender));
      return true;
    case smtp::Pending::Rcpt:
      s.resolve_rcpt(recipients_.decide(client, s.rcpt_request().mailbox));
      return true;
    case smtp::Pending::Vrfy:
    case smtp::Pending::Expn:
      s.resolve_address(
          recipients_.verify(s.address_request().mailbox, s.pending() == smtp::Pending::Expn));
      return true;
    default:
      return false;
  }
}

}  // namespace taube::policy
