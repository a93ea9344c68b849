#include "queue/destination_view.hpp"

#include <algorithm>
#include <ctime>

#include "queue/listing.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::queue {

namespace {

std::uint64_t errors(const AttemptCounts& c) {
  return c[static_cast<std::size_t>(AttemptKind::ConnectionError)] +
         c[static_cast<std::size_t>(AttemptKind::TlsFailure)];
}

std::uint64_t count(const AttemptCounts& c, AttemptKind k) {
  return c[static_cast<std::size_t>(k)];
}

std::string counts_json(const AttemptCounts& c) {
  std::string out = "{";
  for (std::size_t k = 0; k < kAttemptKinds; ++k) {
    if (k) out += ", ";
    out += "\"" + std::string(attempt_kind_name(static_cast<AttemptKind>(k))) +
           "\": " + std::to_string(c[k]);
  }
  return out + "}";
}

// "45s", "12m", "3h", "4d": the age columns of a table read at a glance.
std::string short_age(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

// "22:40:12" (UTC, as mailq's times), with the date when it is not today's.
std::string clock_time(std::int64_t t, std::int64_t now) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  const bool same_day = t / 86400 == now / 86400;
  std::strftime(buf, sizeof buf, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string pad_left(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

std::string pad_right(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

}  // namespace

std::size_t DestinationRow::queued() const {
  std::size_t n = 0;
  for (auto m : messages) n += m;
  return n;
}

void DestinationShape::add(const std::string& key, QueueState s, std::int64_t arrival,
                           std::size_t recipients, std::int64_t now) {
  DestinationRow& r = rows_[key];
  if (r.key.empty()) r.key = key;
  ++r.messages[static_cast<std::size_t>(s)];
  r.recipients += recipients;
  if (r.oldest_arrival == 0 || arrival < r.oldest_arrival) r.oldest_arrival = arrival;
  const std::int64_t minutes = std::max<std::int64_t>(0, now - arrival) / 60;
  std::size_t b = 0;
  while (b < kAgeLimits.size() && minutes >= kAgeLimits[b]) ++b;
  ++r.ages[b];
}

std::vector<std::string> peek_queued_domains(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.starts_with("rcpt ")) continue;
    // "rcpt LOCAL DOMAIN [literal] key=value..." (envelope.cpp put_mailbox): xtext holds no
    // space, so the domain is the third field. The state as peek_envelope() reads it.
    std::string_view state = "pending";
    if (const auto st = line.find(" state="); st != std::string_view::npos) {
      state = line.substr(st + 7);
      state = state.substr(0, state.find(' '));
    }
    if (state != "pending" && state != "deferred" && state != "delay-notified") continue;
    std::string_view rest = line.substr(5);
    const auto sp = rest.find(' ');
    if (sp == std::string_view::npos) continue;
    rest.remove_prefix(sp + 1);
    auto domain = smtp::decode_xtext(rest.substr(0, rest.find(' ')));
    if (domain) out.push_back(std::move(*domain));
  }
  return out;
}

std::optional<DestinationSort> parse_destination_sort(std::string_view s) {
  if (s == "queued") return DestinationSort::Queued;
  if (s == "age") return DestinationSort::Age;
  if (s == "deferred") return DestinationSort::Deferred;
  if (s == "errors") return DestinationSort::Errors;
  if (s == "delivered") return DestinationSort::Delivered;
  if (s == "held") return DestinationSort::Held;
  if (s == "name") return DestinationSort::Name;
  return std::nullopt;
}

void sort_destinations(std::vector<DestinationRow>& rows, DestinationSort by, std::int64_t now) {
  // A key per order, larger first; the name breaks ties (and is the Name order itself).
  auto rank = [by, now](const DestinationRow& r) -> std::int64_t {
    switch (by) {
      case DestinationSort::Queued:
        return static_cast<std::int64_t>(r.queued());
      case DestinationSort::Age:
        // Nothing queued sorts last.
        return r.oldest_arrival == 0 ? INT64_MIN : -r.oldest_arrival;
      case DestinationSort::Deferred:
        return static_cast<std::int64_t>(count(r.history.last_hour, AttemptKind::Deferred));
      case DestinationSort::Errors:
        return static_cast<std::int64_t>(errors(r.history.last_hour));
      case DestinationSort::Delivered:
        return static_cast<std::int64_t>(count(r.history.last_hour, AttemptKind::Delivered));
      case DestinationSort::Held:
        return r.held(now) ? r.held_until : INT64_MIN;
      case DestinationSort::Name:
        return 0;
    }
    return 0;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const DestinationRow& a, const DestinationRow& b) {
    const auto ra = rank(a), rb = rank(b);
    return ra != rb ? ra > rb : a.key < b.key;
  });
}

std::string json_destination(const DestinationRow& r, std::int64_t now) {
  std::string out = "{\"destination\": " + json_quote(r.key);
  out += ", \"queued\": " + std::to_string(r.queued());
  out += ", \"recipients\": " + std::to_string(r.recipients);
  out += ", \"messages\": {";
  for (std::size_t s = 0; s < kQueueStates; ++s) {
    if (s) out += ", ";
    out += "\"" + std::string(state_name(static_cast<QueueState>(s))) +
           "\": " + std::to_string(r.messages[s]);
  }
  out += "}, \"ages\": [";
  for (std::size_t b = 0; b < kAgeBuckets; ++b) out += (b ? ", " : "") + std::to_string(r.ages[b]);
  out += "], \"oldest_arrival\": " + std::to_string(r.oldest_arrival);
  out += ", \"oldest_age\": " +
         std::to_string(r.oldest_arrival ? std::max<std::int64_t>(0, now - r.oldest_arrival) : 0);
  out += ", \"scheduled\": " + std::string(r.scheduled ? "true" : "false");
  out += ", \"connections\": " + std::to_string(r.connections);
  out += ", \"limit\": " + std::to_string(r.limit);
  out += ", \"waiting\": " + std::to_string(r.waiting);
  out += ", \"held\": " + std::string(r.held(now) ? "true" : "false");
  out += ", \"held_until\": " + std::to_string(r.held(now) ? r.held_until : 0);
  out += ", \"consecutive_failures\": " + std::to_string(r.consecutive_failures);
  out +=
      ", \"plaintext_until\": " + std::to_string(r.plaintext_until > now ? r.plaintext_until : 0);
  out += ", \"last_hour\": " + counts_json(r.history.last_hour);
  out += ", \"total\": " + counts_json(r.history.total);
  out += ", \"last_success\": " + std::to_string(r.history.last_success);
  out += ", \"last_failure\": " + std::to_string(r.history.last_failure);
  out += ", \"last_error\": " + json_quote(r.history.last_error);
  return out + "}";
}

std::string destinations_text(const std::vector<DestinationRow>& rows, std::int64_t now) {
  std::size_t w = 5;  // "TOTAL"
  for (const auto& r : rows) w = std::max(w, r.key.size());
  w = std::min<std::size_t>(w, 48);
  // qshape: messages by age in minutes; "T" the total, "5" those younger than 5 minutes, ...
  std::string out = pad_left("", w) + pad_left("T", 6);
  for (auto l : kAgeLimits) out += pad_left(std::to_string(l), 6);
  out += pad_left(std::to_string(kAgeLimits.back()) + "+", 6) + "\n";
  std::array<std::size_t, kAgeBuckets> sums{};
  std::size_t total = 0;
  for (const auto& r : rows) {
    total += r.queued();
    for (std::size_t b = 0; b < kAgeBuckets; ++b) sums[b] += r.ages[b];
  }
  auto shape_line = [&](const std::string& name, std::size_t t,
                        const std::array<std::size_t, kAgeBuckets>& a) {
    std::string l = pad_left(name, w) + pad_left(std::to_string(t), 6);
    for (auto n : a) l += pad_left(std::to_string(n), 6);
    return l + "\n";
  };
  out += shape_line("TOTAL", total, sums);
  for (const auto& r : rows)
    if (r.queued() > 0) out += shape_line(r.key, r.queued(), r.ages);
  // Health: the queue by state, connections, the last hour's outcomes, the back-off.
  out += "\n" + pad_right("DESTINATION", w) +
         "  ACTIVE DEFERRED HOLD OLDEST  CONN  SENT DEFER BOUNCE CONNERR TLSERR  STATE\n";
  for (const auto& r : rows) {
    const auto& h = r.history.last_hour;
    std::string l = pad_right(r.key, w);
    l += pad_left(std::to_string(r.messages[static_cast<std::size_t>(QueueState::Active)]), 8);
    l += pad_left(std::to_string(r.messages[static_cast<std::size_t>(QueueState::Deferred)]), 9);
    l += pad_left(std::to_string(r.messages[static_cast<std::size_t>(QueueState::Hold)]), 5);
    l += pad_left(r.oldest_arrival ? short_age(now - r.oldest_arrival) : "-", 7);
    l += pad_left(std::to_string(r.connections) + "/" + std::to_string(r.limit), 6);
    l += pad_left(std::to_string(count(h, AttemptKind::Delivered)), 6);
    l += pad_left(std::to_string(count(h, AttemptKind::Deferred)), 6);
    l += pad_left(std::to_string(count(h, AttemptKind::Bounced)), 7);
    l += pad_left(std::to_string(count(h, AttemptKind::ConnectionError)), 8);
    l += pad_left(std::to_string(count(h, AttemptKind::TlsFailure)), 7);
    std::string state = "ok";
    if (r.held(now)) {
      state = "held until " + clock_time(r.held_until, now) + " (" +
              std::to_string(r.consecutive_failures) + " failure" +
              (r.consecutive_failures == 1 ? "" : "s") + ")";
    } else if (r.history.last_failure > r.history.last_success) {
      state = "failing";
    } else if (!r.scheduled && r.history.last_seen == 0) {
      state = "-";
    }
    if (r.plaintext_until > now) state += ", plaintext until " + clock_time(r.plaintext_until, now);
    out += l + "  " + state + "\n";
    if (!r.history.last_error.empty() && r.history.last_failure >= r.history.last_success)
      out += "    last error " + clock_time(r.history.last_failure, now) + ": " +
             r.history.last_error + "\n";
  }
  out += "-- " + std::to_string(rows.size()) + " destination(s), " + std::to_string(total) +
         " message(s) queued; outcomes over the last hour (UTC times).\n";
  return out;
}

}  // namespace taube::queue
