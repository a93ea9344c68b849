#include "dns/route.hpp"

#include <algorithm>
#include <cmath>

namespace taube::dns {

std::string_view to_string(PlanStatus s) {
  switch (s) {
    case PlanStatus::Ok:
      return "ok";
    case PlanStatus::NullMx:
      return "null MX";
    case PlanStatus::NoSuchDomain:
      return "no such domain";
    case PlanStatus::TempFail:
      return "temporary DNS failure";
    case PlanStatus::LoopsToSelf:
      return "mail loops back to myself";
    case PlanStatus::NoAddresses:
      return "no address for the mail exchangers";
  }
  return "?";
}

int reply_code(PlanStatus s) {
  switch (s) {
    case PlanStatus::Ok:
      return 250;
    case PlanStatus::NullMx:
      return 556;  // RFC 7504 §3.1 / RFC 7505 §4.2
    case PlanStatus::NoSuchDomain:
      return 550;
    case PlanStatus::TempFail:
      return 451;
    case PlanStatus::LoopsToSelf:
      return 554;
    case PlanStatus::NoAddresses:
      return 550;
  }
  return 451;
}

std::string_view enhanced_status(PlanStatus s) {
  switch (s) {
    case PlanStatus::Ok:
      return "2.0.0";
    case PlanStatus::NullMx:
      return "5.1.10";  // RFC 7505 §4.2: "Recipient address has null MX"
    case PlanStatus::NoSuchDomain:
      return "5.1.2";  // RFC 3463: bad destination system address
    case PlanStatus::TempFail:
      return "4.4.3";  // RFC 3463: directory server failure
    case PlanStatus::LoopsToSelf:
      return "5.4.6";  // RFC 3463: routing loop detected
    case PlanStatus::NoAddresses:
      return "5.4.4";  // RFC 3463: unable to route
  }
  return "4.4.3";
}

std::optional<FamilyPreference> parse_family(std::string_view text) {
  if (text == "ipv6-first") return FamilyPreference::Ipv6First;
  if (text == "ipv4-first") return FamilyPreference::Ipv4First;
  if (text == "ipv4-only") return FamilyPreference::Ipv4Only;
  if (text == "ipv6-only") return FamilyPreference::Ipv6Only;
  return std::nullopt;
}

std::string_view to_string(FamilyPreference f) {
  switch (f) {
    case FamilyPreference::Ipv6First:
      return "ipv6-first";
    case FamilyPreference::Ipv4First:
      return "ipv4-first";
    case FamilyPreference::Ipv4Only:
      return "ipv4-only";
    case FamilyPreference::Ipv6Only:
      return "ipv6-only";
  }
  return "?";
}

bool wants_ipv6(FamilyPreference f) {
  return f != FamilyPreference::Ipv4Only;
}
bool wants_ipv4(FamilyPreference f) {
  return f != FamilyPreference::Ipv6Only;
}

namespace {

bool is_self(std::string_view name, std::span<const std::string> self_names) {
  return std::any_of(self_names.begin(), self_names.end(),
                     [&](const std::string& s) { return normalize_name(s) == name; });
}

// One uniform index in [0, n) from a draw in [0, 1); out-of-range or NaN draws are clamped so a
// bad source cannot index out of bounds.
std::size_t pick(double draw, std::size_t n) {
  if (!(draw >= 0)) draw = 0;
  auto i = static_cast<std::size_t>(std::floor(draw * static_cast<double>(n)));
  return std::min(i, n - 1);
}

}  // namespace

HostOrder order_mx(std::string_view domain, const MxAnswer& mx,
                   std::span<const std::string> self_names,
                   const std::function<double()>& random01) {
  const std::string name = normalize_name(domain);
  HostOrder out;
  switch (mx.rcode) {
    case Rcode::NxDomain:
      out.status = PlanStatus::NoSuchDomain;
      out.reason = "domain " + name + " does not exist (NXDOMAIN)";
      return out;
    case Rcode::ServFail:
      out.status = PlanStatus::TempFail;
      out.reason = "MX lookup for " + name +
                   " failed: " + (mx.reason.empty() ? std::string("SERVFAIL") : mx.reason);
      return out;
    case Rcode::Ok:
      break;
  }
  for (const auto& r : mx.records) {
    if (normalize_name(r.exchange).empty()) {
      out.status = PlanStatus::NullMx;
      out.reason = "domain " + name + " accepts no mail (null MX)";
      return out;
    }
  }
  if (mx.records.empty()) {
    // RFC 5321 §5.1: no MX records -> the domain is treated as its own MX, preference 0.
    if (is_self(name, self_names)) {
      out.status = PlanStatus::LoopsToSelf;
      out.reason = "mail for " + name + " loops back to myself (no MX, the domain is this host)";
      return out;
    }
    out.status = PlanStatus::Ok;
    out.hosts.push_back({name, 0, true});
    return out;
  }
  std::vector<MxHost> hosts;
  for (const auto& r : mx.records) {
    std::string ex = normalize_name(r.exchange);
    auto same =
        std::find_if(hosts.begin(), hosts.end(), [&](const MxHost& h) { return h.name == ex; });
    if (same != hosts.end()) {
      same->preference = std::min(same->preference, r.preference);
    } else {
      hosts.push_back({std::move(ex), r.preference, false});
    }
  }
  // Sorted by preference, ties in answer order before the shuffle (so the draws alone decide).
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  for (std::size_t begin = 0; begin < hosts.size();) {
    std::size_t end = begin + 1;
    while (end < hosts.size() && hosts[end].preference == hosts[begin].preference) ++end;
    // Fisher-Yates over [begin, end): for each position from the last, swap with a random one
    // at or before it.
    for (std::size_t i = end - 1; i > begin; --i) {
      const double draw = random01 ? random01() : 0.0;
      const std::size_t j = begin + pick(draw, i - begin + 1);
      std::swap(hosts[i], hosts[j]);
    }
    begin = end;
  }
  // RFC 5321 §5.1: if we are one of the MX hosts, only the strictly better ones remain.
  auto self = std::find_if(hosts.begin(), hosts.end(),
                           [&](const MxHost& h) { return is_self(h.name, self_names); });
  if (self != hosts.end()) {
    const std::uint16_t own = self->preference;  // hosts are sorted: the first self is the best
    const std::string self_name = self->name;
    std::erase_if(hosts, [&](const MxHost& h) { return h.preference >= own; });
    if (hosts.empty()) {
      out.status = PlanStatus::LoopsToSelf;
      out.reason = "mail for " + name + " loops back to myself (" + self_name + " is its best MX)";
      return out;
    }
  }
  out.status = PlanStatus::Ok;
  out.hosts = std::move(hosts);
  return out;
}

RoutePlan plan_targets(const HostOrder& order, const std::vector<HostAddresses>& per_host,
                       FamilyPreference family, std::size_t max_addresses,
                       std::span<const inet::IpAddress> self_addresses) {
  RoutePlan plan;
  if (order.status != PlanStatus::Ok) {
    plan.status = order.status;
    plan.reason = order.reason;
    return plan;
  }
  const bool v6 = wants_ipv6(family);
  const bool v4 = wants_ipv4(family);
  const bool v6_first =
      family == FamilyPreference::Ipv6First || family == FamilyPreference::Ipv6Only;
  auto ours = [&](const inet::IpAddress& a) {
    return std::any_of(self_addresses.begin(), self_addresses.end(),
                       [&](const inet::IpAddress& s) { return s.unmapped() == a.unmapped(); });
  };

  // First pass: the addresses of each host and whether a lookup failed.
  struct HostResult {
    std::vector<inet::IpAddress> addresses;
    bool failed = false;
    std::string failure;
  };
  const AddressAnswer missing{Rcode::ServFail, {}, "not looked up"};
  std::vector<HostResult> results(order.hosts.size());
  for (std::size_t i = 0; i < order.hosts.size(); ++i) {
    const AddressAnswer& aaaa = i < per_host.size() ? per_host[i].first : missing;
    const AddressAnswer& a = i < per_host.size() ? per_host[i].second : missing;
    auto add = [&](const AddressAnswer& ans, bool wanted, const char* type) {
      if (!wanted) return;
      if (ans.rcode == Rcode::ServFail) {
        results[i].failed = true;
        results[i].failure = order.hosts[i].name + " " + type + ": " +
                             (ans.reason.empty() ? std::string("SERVFAIL") : ans.reason);
        return;
      }
      for (const auto& addr : ans.addresses) {
        auto& list = results[i].addresses;
        if (std::find(list.begin(), list.end(), addr) == list.end()) list.push_back(addr);
      }
    };
    if (v6_first) {
      add(aaaa, v6, "AAAA");
      add(a, v4, "A");
    } else {
      add(a, v4, "A");
      add(aaaa, v6, "AAAA");
    }
  }

  // A host with one of our addresses is us: it and everything not better than it go.
  std::size_t usable_hosts = order.hosts.size();
  for (std::size_t i = 0; i < order.hosts.size(); ++i) {
    if (std::any_of(results[i].addresses.begin(), results[i].addresses.end(), ours)) {
      const std::uint16_t own = order.hosts[i].preference;
      usable_hosts = i;
      while (usable_hosts > 0 && order.hosts[usable_hosts - 1].preference >= own) --usable_hosts;
      if (usable_hosts == 0) {
        plan.status = PlanStatus::LoopsToSelf;
        // Name the address that is ours, not merely the first one.
        for (const auto& a : results[i].addresses)
          if (ours(a)) {
            plan.reason = "mail loops back to myself: " + order.hosts[i].name +
                          " has the local address " + a.to_string();
            break;
          }
        return plan;
      }
      break;
    }
  }

  bool any_failed = false;
  std::string first_failure;
  for (std::size_t i = 0; i < usable_hosts && plan.targets.size() < max_addresses; ++i) {
    if (results[i].failed && !any_failed) first_failure = results[i].failure;
    any_failed = any_failed || results[i].failed;
    for (const auto& addr : results[i].addresses) {
      if (plan.targets.size() >= max_addresses) break;
      plan.targets.push_back({order.hosts[i].name, addr, order.hosts[i].preference});
    }
  }
  if (!plan.targets.empty()) {
    plan.status = PlanStatus::Ok;
    return plan;
  }
  if (any_failed) {
    plan.status = PlanStatus::TempFail;
    plan.reason = "address lookup failed: " + first_failure;
  } else {
    plan.status = PlanStatus::NoAddresses;
    const std::string_view fam = v6 && v4 ? "" : v6 ? " IPv6" : " IPv4";
    plan.reason = std::string(order.hosts.front().implicit ? "domain " : "MX host ") +
                  order.hosts.front().name + (usable_hosts > 1 ? " and the others" : "") + " ha" +
                  (usable_hosts > 1 ? "ve" : "s") + " no" + std::string(fam) + " address";
  }
  return plan;
}

std::optional<RoutePlan> plan_literal(std::string_view domain, FamilyPreference family,
                                      std::span<const inet::IpAddress> self_addresses) {
  if (domain.empty() || domain.front() != '[') return std::nullopt;
  RoutePlan plan;
  const std::string text(domain);
  if (domain.size() < 3 || domain.back() != ']') {
    plan.status = PlanStatus::NoSuchDomain;
    plan.reason = "malformed address literal " + text;
    return plan;
  }
  std::string_view inner = domain.substr(1, domain.size() - 2);
  std::optional<inet::IpAddress> addr;
  // RFC 5321 §4.1.3: "IPv6:" is case-insensitive like every tag; an IPv6 address needs it, an
  // IPv4 one must not have one.
  constexpr std::string_view tag = "ipv6:";
  bool tagged_v6 = inner.size() > tag.size();
  for (std::size_t i = 0; tagged_v6 && i < tag.size(); ++i) {
    char c = inner[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    tagged_v6 = c == tag[i];
  }
  if (tagged_v6) {
    addr = inet::IpAddress::parse(inner.substr(tag.size()));
    if (addr && !addr->is_v6()) addr.reset();
  } else {
    addr = inet::IpAddress::parse(inner);
    if (addr && !addr->is_v4()) addr.reset();
  }
  if (!addr) {
    plan.status = PlanStatus::NoSuchDomain;
    plan.reason = "unusable address literal " + text;
    return plan;
  }
  // A v4-mapped IPv6 literal is the IPv4 host.
  const inet::IpAddress a = addr->unmapped();
  if ((a.is_v6() && !wants_ipv6(family)) || (a.is_v4() && !wants_ipv4(family))) {
    plan.status = PlanStatus::NoAddresses;
    plan.reason =
        "address literal " + text + " is excluded by family " + std::string(to_string(family));
    return plan;
  }
  for (const auto& s : self_addresses) {
    if (s.unmapped() == a) {
      plan.status = PlanStatus::LoopsToSelf;
      plan.reason = "mail for " + text + " loops back to myself";
      return plan;
    }
  }
  plan.status = PlanStatus::Ok;
  plan.targets.push_back({text, a, 0});
  return plan;
}

}  // namespace taube::dns
