// From DNS answers to the ordered list of addresses to try for one destination domain:
// RFC 5321 §5.1 (MX ordering, the implicit MX, discarding MX hosts not better than ourselves),
// RFC 7505 (null MX), RFC 5321 §4.1.3 (address literals need no DNS). Pure functions of their
// inputs; the randomness that breaks preference ties is passed in as draws, so tests are exact.
//
// Two steps, because the address lookups depend on the first one's result:
//   order_mx(domain, MX answer)            -> HostOrder  (which hosts, in which order)
//   plan_targets(order, A/AAAA per host)   -> RoutePlan  (which addresses, at most N)
// net::resolve_route() does the lookups in between.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/answers.hpp"
#include "inet/ip_address.hpp"

namespace taube::dns {

struct MxHost {
  std::string name;  // normalized (normalize_name)
  std::uint16_t preference = 0;
  bool implicit = false;  // no MX records: the domain itself (RFC 5321 §5.1)
  friend bool operator==(const MxHost&, const MxHost&) = default;
};

// Why a domain cannot be delivered to now. Each maps to one reply (reply_code, enhanced_status).
enum class PlanStatus : std::uint8_t {
  Ok,            // targets to try
  NullMx,        // 556 5.1.10: the domain accepts no mail (RFC 7505 §4.2, RFC 7504)
  NoSuchDomain,  // 550 5.1.2: NXDOMAIN, or an unusable address literal (RFC 3463)
  TempFail,      // 451 4.4.3: a DNS failure or timeout; the queue retries (RFC 3463)
  LoopsToSelf,   // 554 5.4.6: the best MX is this host itself (RFC 5321 §5.1, RFC 3463)
  NoAddresses,   // 550 5.4.4: MX hosts (or the implicit MX) exist but none has an address of
                 // a usable family, and no lookup failed temporarily (RFC 3463: unable to route)
};

std::string_view to_string(PlanStatus s);
int reply_code(PlanStatus s);                    // 250 for Ok
std::string_view enhanced_status(PlanStatus s);  // "2.0.0" for Ok

struct HostOrder {
  PlanStatus status = PlanStatus::TempFail;
  std::vector<MxHost> hosts;  // Ok: at least one
  std::string reason;         // not Ok: why, for logs and bounces
};

// RFC 5321 §5.1 and RFC 7505 for `domain` (any case, trailing dot or not):
//   NXDOMAIN -> NoSuchDomain; ServFail -> TempFail;
//   any record with exchange "." -> NullMx (RFC 7505 §3 says a null MX is the only record;
//     one among others is still the domain saying it takes no mail, so it wins);
//   no records (NoData) -> the implicit MX: the domain itself, preference 0, implicit = true;
//   otherwise the hosts by ascending preference, duplicates (same name) kept once at their best
//     preference, equal preferences shuffled (§5.1 "SHOULD ... randomize") with one draw of
//     `random01` per host after the first in each group (Fisher-Yates; draws in [0, 1)).
// When a name in `self_names` (Taube's own host names, compared case-insensitively) is among
// the hosts, only the hosts with a lower preference value than the best self entry remain
// (§5.1: "MUST discard all MX RRs ... with preference ... equal to or greater than its own");
// none left -> LoopsToSelf. An implicit MX that is a self name is LoopsToSelf too.
HostOrder order_mx(std::string_view domain, const MxAnswer& mx,
                   std::span<const std::string> self_names,
                   const std::function<double()>& random01);

struct Target {
  std::string host;  // the MX host name (also what TLS/DANE will check), or the literal
  inet::IpAddress address;
  std::uint16_t preference = 0;
  friend bool operator==(const Target&, const Target&) = default;
};

enum class FamilyPreference : std::uint8_t { Ipv6First, Ipv4First, Ipv4Only, Ipv6Only };

// Parses "ipv6-first", "ipv4-first", "ipv4-only", "ipv6-only".
std::optional<FamilyPreference> parse_family(std::string_view text);
std::string_view to_string(FamilyPreference f);
// Whether a lookup of that family is needed at all.
bool wants_ipv6(FamilyPreference f);
bool wants_ipv4(FamilyPreference f);

struct RoutePlan {
  PlanStatus status = PlanStatus::TempFail;
  std::vector<Target> targets;  // Ok: 1 .. max_addresses, in the order to try them
  std::string reason;           // for logs and bounces ("" when Ok)

  int reply_code() const { return dns::reply_code(status); }
  std::string enhanced_status() const { return std::string(dns::enhanced_status(status)); }
};

// The AAAA answer (first) and the A answer (second) of one host. A family the preference does
// not want is not looked at (its answer may be a default value).
using HostAddresses = std::pair<AddressAnswer, AddressAnswer>;

// The addresses to try, given `order` (status Ok; any other status is passed on unchanged) and
// one HostAddresses per host of order.hosts, same index (missing entries count as ServFail):
// - host by host in order; within a host the preferred family's addresses first, then the
//   other's (the fallback), each family in the order DNS gave, duplicates dropped;
// - at most max_addresses targets (Postfix's smtp_mx_address_limit is 5);
// - a host with an address in `self_addresses` is this host under another name: it and every
//   host of the same or a higher preference value go (RFC 5321 §5.1, as for self names);
//   if that leaves nothing -> LoopsToSelf;
// - no targets otherwise: TempFail when any wanted lookup failed (ServFail or timeout: it may
//   work later), else NoAddresses (every host NXDOMAIN or without a record of a usable family).
// A host whose lookups failed while others resolved is skipped: deliver to what resolves.
RoutePlan plan_targets(const HostOrder& order, const std::vector<HostAddresses>& per_host,
                       FamilyPreference family, std::size_t max_addresses,
                       std::span<const inet::IpAddress> self_addresses);

// A domain in brackets is an address literal (RFC 5321 §4.1.3): "[192.0.2.1]" or
// "[IPv6:2001:db8::1]"; it is delivered to that address, without DNS. nullopt when `domain` is
// not bracketed (look it up). Otherwise a plan: Ok with one target (preference 0); NoSuchDomain
// for a malformed literal or a General-address-literal ("[tag:...]", no tag is defined for
// delivery); NoAddresses when the family preference excludes the literal's family;
// LoopsToSelf when it is one of `self_addresses`.
std::optional<RoutePlan> plan_literal(std::string_view domain, FamilyPreference family,
                                      std::span<const inet::IpAddress> self_addresses);

}  // namespace taube::dns
