#include "policy/recipient_policy.hpp"

namespace taube::policy {

bool RecipientPolicy::relay_client(const ClientFacts& client) const {
  if (!client.auth_user.empty()) return true;
  for (const auto& n : rules_.networks)
    if (n.contains(client.address)) return true;
  return false;
}

smtp::RcptVerdict RecipientPolicy::decide(const ClientFacts& client,
                                          const smtp::Mailbox& rcpt) const {
  using K = smtp::RcptVerdictKind;
  using Route = smtp::Destination::Route;
  const Resolution res = dir_.resolve(rcpt.local_part, rcpt.domain);
  std::vector<smtp::Destination> dests;
  for (const auto& m : res.maildirs) dests.push_back({Route::Mailbox, m});
  // An alias that leads off-site: the outbound queue takes that copy (forwarding needs no relay
  // permission: the alias is the local domain's own decision).
  for (const auto& r : res.remote) dests.push_back({Route::Queue, r});
  switch (res.verdict) {
    case Verdict::Local:
      return {K::Accept, std::move(dests), {}};
    case Verdict::Forward:
      // RFC 5321 §3.4: 251 tells the client where the mail really goes.
      return {K::Forward, std::move(dests), res.forward_to};
    case Verdict::UserUnknown:
      return {K::UserUnknown, {}, {}};
    case Verdict::RelayDenied:
      break;
  }
  if (rcpt.domain_is_literal || rcpt.domain.empty() || !relay_client(client))
    return {K::RelayDenied, {}, {}};
  return {K::Accept, {{Route::Queue, rcpt.to_string()}}, {}};
}

smtp::AddressVerdict RecipientPolicy::verify(const smtp::Mailbox& who, bool expand) const {
  using K = smtp::AddressVerdictKind;
  std::string domain = who.domain;
  if (domain.empty() && !dir_.config().domains.empty()) domain = dir_.config().domains.front();
  const Resolution res = dir_.resolve(who.local_part, domain);
  switch (res.verdict) {
    case Verdict::Local:
    case Verdict::Forward: {
      std::vector<std::string> found = res.expansion;
      if (!expand || found.empty()) found = {who.local_part + "@" + domain};
      return {K::Found, std::move(found)};
    }
    case Verdict::UserUnknown:
      return {K::Unknown, {}};
    case Verdict::RelayDenied:
      break;
  }
  return {K::CannotVerify, {}};  // not ours to say (RFC 5321 §3.5.3)
}

}  // namespace taube::policy
