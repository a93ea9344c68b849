#include "queue/listing.hpp"

#include "text/json.hpp"

#include <algorithm>
#include <ctime>

#include "queue/attempt.hpp"
#include "smtp/wire/ascii.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::queue {
std::string utc_text(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

namespace {

std::string sender_of(const QueueEnvelope& env) {
  return env.sender.null ? std::string("MAILER-DAEMON") : env.sender.mailbox.to_string();
}

// "Wed Dec  2 13:00:00" (UTC; Postfix's showq prints local time the same way).
std::string arrival_text(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S", &tm);
  return buf;
}

std::string utc(std::int64_t t) {
  return utc_text(t);
}

std::string pad_left(std::string s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

void json_string(std::string& out, std::string_view s) {
  text::append_json_string(out, s);
}

std::int64_t earliest_next(const QueueEnvelope& env) {
  auto d = next_due(env);
  return d ? *d : 0;
}

}  // namespace

std::string queue_name(const ListedItem& item) {
  if (item.envelope.held != 0) return "hold";
  if (item.active) return "active";
  for (const auto& r : item.envelope.recipients)
    if (r.attempts > 0) return "deferred";
  return "incoming";
}

std::string mailq_text(const std::vector<ListedItem>& items) {
  if (items.empty()) return "Mail queue is empty\n";
  std::size_t idw = 10;
  for (const auto& i : items) idw = std::max(idw, i.envelope.id.size());
  std::string out = "-Queue ID-" + std::string(idw - 10, '-') +
                    "  --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
  const std::size_t indent = idw + 1 + 1 + 8 + 1 + 19 + 2;
  std::uint64_t bytes = 0;
  for (const auto& i : items) {
    const auto& env = i.envelope;
    bytes += i.size;
    std::string id = env.id;
    id += std::string(idw - id.size(), ' ');
    const char mark = env.held != 0 ? '!' : i.active ? '*' : ' ';
    out += id + mark + " " + pad_left(std::to_string(i.size), 8) + " " + arrival_text(env.arrival) +
           "  " + sender_of(env) + "\n";
    // Recipients still queued, grouped under their last reason (as showq does).
    std::string last_reason;
    for (const auto& r : env.recipients) {
      if (!is_queued(r.state)) continue;
      if (!r.last_reply.empty() && r.last_reply != last_reason) {
        out += "(" + r.last_reply + ")\n";
        last_reason = r.last_reply;
      }
      out += std::string(indent, ' ') + r.mailbox.to_string() + "\n";
    }
    out += "\n";
  }
  out += "-- " + std::to_string((bytes + 1023) / 1024) + " Kbytes in " +
         std::to_string(items.size()) + (items.size() == 1 ? " Request.\n" : " Requests.\n");
  return out;
}

std::string json_line(const ListedItem& item) {
  const auto& env = item.envelope;
  std::string out = "{\"queue_name\": ";
  json_string(out, queue_name(item));
  out += ", \"queue_id\": ";
  json_string(out, env.id);
  out += ", \"arrival_time\": " + std::to_string(env.arrival);
  out += ", \"message_size\": " + std::to_string(item.size);
  out += ", \"forced_expire\": false, \"sender\": ";
  json_string(out, env.sender.null ? std::string() : env.sender.mailbox.to_string());
  out += ", \"recipients\": [";
  bool first = true;
  for (const auto& r : env.recipients) {
    if (!is_queued(r.state)) continue;
    out += first ? "{" : ", {";
    first = false;
    out += "\"address\": ";
    json_string(out, r.mailbox.to_string());
    if (!r.last_reply.empty()) {
      out += ", \"delay_reason\": ";
      json_string(out, r.last_reply);
    }
    out += ", \"attempts\": " + std::to_string(r.attempts);
    out += ", \"next_attempt\": " + std::to_string(r.next_attempt) + "}";
  }
  out += "], \"next_attempt\": " + std::to_string(earliest_next(env));
  out += ", \"queue_file\": ";
  json_string(out, item.name);
  out += "}\n";
  return out;
}

std::string show_text(const ListedItem& item, std::string_view transcript) {
  const auto& env = item.envelope;
  std::string out;
  out += "queue id:    " + env.id + "\n";
  out += "queue file:  " + item.name + "\n";
  out += "queue:       " + queue_name(item) +
         (env.held != 0 ? " (since " + utc(env.held) + ")" : std::string()) + "\n";
  out += "arrival:     " + utc(env.arrival) + "\n";
  out += "expires:     " + utc(item.lifetime_end) + "\n";
  out += "size:        " + std::to_string(item.size) + "\n";
  out +=
      "sender:      <" + (env.sender.null ? std::string() : env.sender.mailbox.to_string()) + ">\n";
  if (!env.auth_user.empty()) out += "submitted by: " + env.auth_user + "\n";
  if (!env.client_address.empty())
    out += "client:      " + env.client_address + " (helo " + env.client_helo + ")\n";
  if (env.params.envid) out += "envid:       " + *env.params.envid + "\n";
  out += "recipients:\n";
  for (const auto& r : env.recipients) {
    out += "  <" + r.mailbox.to_string() + ">";
    if (!r.original.empty()) out += " (for " + r.original + ")";
    out += std::string(" ") + to_string(r.state) + ", attempts " + std::to_string(r.attempts);
    if (is_queued(r.state) && r.next_attempt != 0) out += ", next " + utc(r.next_attempt);
    if (!r.route.empty()) out += ", route " + r.route;
    out += "\n";
    if (!r.last_reply.empty()) out += "    last reply: " + r.last_reply + "\n";
  }
  out += "transcript of the last attempt:\n";
  if (transcript.empty()) {
    out += "  (none kept: not tried yet, or the last attempt did not reach an SMTP dialog)\n";
  } else {
    std::size_t start = 0;
    while (start < transcript.size()) {
      std::size_t nl = transcript.find('\n', start);
      if (nl == std::string_view::npos) nl = transcript.size();
      out += "  ";
      out.append(transcript.substr(start, nl - start));
      out += "\n";
      start = nl + 1;
    }
  }
  return out;
}

std::string why_text(const ListedItem& item, std::int64_t now) {
  const auto& env = item.envelope;
  std::string out = "Message " + env.id + " from <" +
                    (env.sender.null ? std::string() : env.sender.mailbox.to_string()) +
                    ">, queued since " + utc(env.arrival) + ". ";
  std::size_t queued = 0, done = 0;
  for (const auto& r : env.recipients) {
    if (!is_queued(r.state)) {
      ++done;
      continue;
    }
    ++queued;
    out += "<" + r.mailbox.to_string() + ">: ";
    if (r.attempts == 0) {
      out += "not tried yet";
    } else {
      out += "tried " + std::to_string(r.attempts) + (r.attempts == 1 ? " time" : " times");
      if (!r.route.empty()) out += " via " + r.route;
      out += "; the last answer was \"" + r.last_reply + "\"";
    }
    if (env.held != 0) {
      out += "; on hold, nothing is tried until it is released";
    } else if (item.active) {
      out += "; an attempt is running now";
    } else if (r.next_attempt <= now) {
      out += "; due now";
    } else {
      out += "; next attempt in " + std::to_string(r.next_attempt - now) + " s (" +
             utc(r.next_attempt) + ")";
    }
    out += ". ";
  }
  if (queued == 0) out += "Nothing is left to deliver. ";
  if (done > 0) out += std::to_string(done) + " other recipient(s) are done. ";
  if (queued > 0)
    out += "If it is still undelivered at " + utc(item.lifetime_end) +
           ", it is returned to the sender.";
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out += "\n";
  return out;
}

EnvelopeSummary peek_envelope(std::string_view text) {
  EnvelopeSummary out;
  auto number = [](std::string_view v, std::int64_t& n) {
    n = 0;
    if (v.empty()) return false;
    for (const char c : v) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + (c - '0');
    }
    return true;
  };
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.starts_with("arrival ")) {
      out.ok = number(line.substr(8), out.arrival);
    } else if (line.starts_with("hold ")) {
      std::int64_t since = 0;
      out.held = number(line.substr(5), since) && since != 0;
    } else if (line.starts_with("rcpt ")) {
      // Keys come after the mailbox; xtext never holds a space or '=', so " state=" and
      // " attempts=" can only be keys.
      const auto st = line.find(" state=");
      std::string_view state = "pending";
      if (st != std::string_view::npos) {
        state = line.substr(st + 7);
        state = state.substr(0, state.find(' '));
      }
      if (state == "pending" || state == "deferred" || state == "delay-notified") ++out.queued;
      const auto at = line.find(" attempts=");
      if (at != std::string_view::npos) {
        std::string_view v = line.substr(at + 10);
        v = v.substr(0, v.find(' '));
        std::int64_t n = 0;
        if (number(v, n) && n > 0) out.tried = true;
      }
    }
  }
  return out;
}

std::string queue_name(const EnvelopeSummary& s) {
  if (s.held) return "hold";
  return s.tried ? "deferred" : "incoming";
}

bool may_match(std::string_view text, const ListFilter& f) {
  auto has = [text](std::string_view needle) {
    if (needle.empty()) return true;
    // A quoted local part is written unquoted: no shortcut for such a needle.
    if (needle.find('"') != std::string_view::npos || needle.find('\\') != std::string_view::npos)
      return true;
    const std::string x = smtp::encode_xtext(needle);
    const auto eq = [](char a, char b) {
      return smtp::ascii_to_lower(a) == smtp::ascii_to_lower(b);
    };
    return std::search(text.begin(), text.end(), x.begin(), x.end(), eq) != text.end();
  };
  auto pieces = [&has](std::string_view address) {
    while (!address.empty()) {
      const auto at = address.find('@');
      if (!has(address.substr(0, at))) return false;
      if (at == std::string_view::npos) break;
      address.remove_prefix(at + 1);
    }
    return true;
  };
  if (f.sender != "<>" && !pieces(f.sender)) return false;
  return pieces(f.recipient) && has(f.domain);
}

std::string json_quote(std::string_view s) {
  std::string out;
  json_string(out, s);
  return out;
}

bool matches(const ListedItem& item, const ListFilter& f) {
  const auto& env = item.envelope;
  if (!f.state.empty() && queue_name(item) != f.state) return false;
  auto contains = [](const std::string& hay, const std::string& needle) {
    return smtp::ascii_lower(hay).find(smtp::ascii_lower(needle)) != std::string::npos;
  };
  if (f.sender == "<>") {
    if (!env.sender.null) return false;
  } else if (!f.sender.empty() &&
             (env.sender.null || !contains(env.sender.mailbox.to_string(), f.sender))) {
    return false;
  }
  if (!f.recipient.empty() &&
      std::none_of(env.recipients.begin(), env.recipients.end(),
                   [&](const auto& r) { return contains(r.mailbox.to_string(), f.recipient); }))
    return false;
  if (!f.domain.empty()) {
    const std::string d = smtp::ascii_lower(f.domain);
    if (std::none_of(env.recipients.begin(), env.recipients.end(),
                     [&](const auto& r) { return smtp::ascii_lower(r.mailbox.domain) == d; }))
      return false;
  }
  return true;
}

ListPage select_page(std::vector<ListedItem> items, const ListFilter& f, std::size_t page,
                     std::size_t per_page) {
  ListPage out;
  // Offsets computed without overflow: the caller bounds page and per_page, but a page far
  // past the end must still give an empty page, not wrap around.
  const std::size_t skip = page == 0 ? 0 : page - 1;
  const std::size_t first =
      per_page == 0 || skip > SIZE_MAX / per_page ? SIZE_MAX : skip * per_page;
  for (auto& i : items) {
    if (!matches(i, f)) continue;
    if (out.total >= first && out.items.size() < per_page) out.items.push_back(std::move(i));
    ++out.total;
  }
  return out;
}

std::string json_item(const ListedItem& item) {
  const auto& env = item.envelope;
  std::string out = "{\"queue_id\": ";
  json_string(out, env.id);
  out += ", \"queue_name\": ";
  json_string(out, queue_name(item));
  out += ", \"queue_file\": ";
  json_string(out, item.name);
  out += ", \"arrival_time\": " + std::to_string(env.arrival);
  out += ", \"expires\": " + std::to_string(item.lifetime_end);
  out += ", \"held_since\": " + std::to_string(env.held);
  out += std::string(", \"active\": ") + (item.active ? "true" : "false");
  out += ", \"message_size\": " + std::to_string(item.size);
  out += ", \"sender\": ";
  json_string(out, env.sender.null ? std::string() : env.sender.mailbox.to_string());
  out += ", \"auth_user\": ";
  json_string(out, env.auth_user);
  out += ", \"client\": ";
  json_string(out, env.client_address);
  out += ", \"helo\": ";
  json_string(out, env.client_helo);
  out += ", \"envid\": ";
  json_string(out, env.params.envid.value_or(""));
  out += ", \"next_attempt\": " + std::to_string(earliest_next(env));
  out += ", \"recipients\": [";
  bool first = true;
  for (const auto& r : env.recipients) {
    out += first ? "{" : ", {";
    first = false;
    out += "\"address\": ";
    json_string(out, r.mailbox.to_string());
    out += ", \"original\": ";
    json_string(out, r.original);
    out += ", \"state\": ";
    json_string(out, to_string(r.state));
    out += ", \"attempts\": " + std::to_string(r.attempts);
    out += ", \"next_attempt\": " + std::to_string(is_queued(r.state) ? r.next_attempt : 0);
    out += ", \"route\": ";
    json_string(out, r.route);
    out += ", \"last_reply\": ";
    json_string(out, r.last_reply);
    out += "}";
  }
  out += "]}";
  return out;
}

std::string_view header_section(std::string_view message) {
  if (message.starts_with("\r\n")) return message.substr(0, 0);
  if (message.starts_with("\n")) return message.substr(0, 0);
  const auto crlf = message.find("\r\n\r\n");
  const auto lf = message.find("\n\n");
  const auto end = std::min(crlf == std::string_view::npos ? message.size() : crlf + 2,
                            lf == std::string_view::npos ? message.size() : lf + 1);
  return message.substr(0, end);
}

}  // namespace taube::queue
