#include "policy/recipient_policy.hpp"

#include <algorithm>

#include "smtp/wire/ascii.hpp"

namespace taube::policy {

namespace {

// A recipient whose queued copy goes to another address: an alias target in another domain or a
// reversed SRS address (relaying proper queues the recipient itself; spool_sink.cpp's
// queue_envelope_for() draws the same line for the DSN's original recipient).
bool forwarded(const smtp::Recipient& r) {
  for (const auto& d : r.destinations) {
    if (d.route != smtp::Destination::Route::Queue) continue;
    auto mb = smtp::parse_mailbox(d.target);
    if (mb && !(*mb == r.mailbox)) return true;
  }
  return false;
}

}  // namespace

RecipientPolicy::RecipientPolicy(const Directory& directory, RelayRules rules)
    : dir_(directory), rules_(std::move(rules)) {
  if (rules_.srs && rules_.srs->config().domain.empty() && !dir_.config().domains.empty())
    rules_.srs =
        std::make_shared<const Srs>(rules_.srs->with_domain(dir_.config().domains.front()));
}

bool RecipientPolicy::relay_client(const ClientFacts& client) const {
  if (!client.auth_user.empty() || client.local_submission) return true;
  for (const auto& n : rules_.networks)
    if (n.contains(client.address)) return true;
  return false;
}

smtp::RcptVerdict RecipientPolicy::decide(const ClientFacts& client,
                                          const smtp::Mailbox& rcpt) const {
  if (auto v = decide_srs(rcpt)) return *v;
  return decide_plain(client, rcpt);
}

std::optional<smtp::RcptVerdict> RecipientPolicy::decide_srs(const smtp::Mailbox& rcpt) const {
  using K = smtp::RcptVerdictKind;
  // SRS off: an SRS-looking local part is an ordinary one (usually unknown).
  if (!srs_on() || rcpt.domain_is_literal ||
      !smtp::ascii_iequals(rcpt.domain, rules_.srs->config().domain) ||
      !Srs::looks_like_srs(rcpt.local_part))
    return std::nullopt;
  const std::int64_t day = rules_.today ? rules_.today() : 0;
  auto back = rules_.srs->reverse(rcpt.local_part, day);
  if (!back) {
    switch (back.error()) {
      case SrsError::Expired:
        return smtp::RcptVerdict{K::SrsExpired, {}, {}};
      case SrsError::Crypto:
      case SrsError::NoSecret:
        return smtp::RcptVerdict{K::TempFail, {}, {}};  // ours to fix, not the sender's
      default:
        return smtp::RcptVerdict{K::SrsInvalid, {}, {}};
    }
  }
  // The address the hash vouches for (we signed it). Split at the last '@': the local part may
  // be a quoted one with '@' in it; Mailbox::to_string quotes it again on the way out.
  const auto at = back->rfind('@');
  smtp::Mailbox orig{back->substr(0, at), back->substr(at + 1), false};
  // It must also be a mailbox the queue can take as it is (else the queue envelope would fall
  // back to the SRS address itself).
  if (at == std::string::npos || orig.local_part.empty() || orig.domain.empty() ||
      orig.domain.front() == '[' || !smtp::parse_mailbox(orig.to_string()))
    return smtp::RcptVerdict{K::SrsInvalid, {}, {}};
  // Sent back to a domain that is local now: delivered like any local recipient.
  if (dir_.is_local_domain(orig.domain)) {
    ClientFacts nobody;
    auto v = decide_plain(nobody, orig);
    if (v.kind == K::Forward) v.kind = K::Accept;  // the 251 would name the hidden address
    return v;
  }
  // Relayed without relay permission: only an address that verifies gets here, so this opens no
  // relay (RFC 5321 §3.6.2): it goes to the one address our own secret signed.
  return smtp::RcptVerdict{K::Accept, {{smtp::Destination::Route::Queue, orig.to_string()}}, {}};
}

std::optional<smtp::Path> RecipientPolicy::queue_sender(const smtp::Envelope& env,
                                                        std::int64_t day) const {
  if (!srs_on() || env.sender.null) return std::nullopt;
  const smtp::Mailbox& from = env.sender.mailbox;
  if (from.domain.empty() || from.domain_is_literal || dir_.is_local_domain(from.domain))
    return std::nullopt;
  const SrsConfig& cfg = rules_.srs->config();
  if (smtp::ascii_iequals(from.domain, cfg.domain)) return std::nullopt;
  if (std::any_of(cfg.exclude_domains.begin(), cfg.exclude_domains.end(),
                  [&](const std::string& d) { return smtp::ascii_iequals(from.domain, d); }))
    return std::nullopt;
  if (std::none_of(env.recipients.begin(), env.recipients.end(), forwarded)) return std::nullopt;
  // Not rewritable (too long for a local part, no secret): the sender stays as it is; the next
  // hop's SPF check may fail, but the mail and its bounces still go.
  auto srs = rules_.srs->forward(from.local_part + "@" + from.domain, day);
  if (!srs) return std::nullopt;
  const auto at = srs->rfind('@');
  smtp::Path p;
  p.mailbox = {srs->substr(0, at), srs->substr(at + 1), false};
  return p;
}

smtp::RcptVerdict RecipientPolicy::decide_plain(const ClientFacts& client,
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
