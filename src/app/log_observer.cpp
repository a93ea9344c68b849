#include "app/log_observer.hpp"

#include <fmt/format.h>

namespace taube::app {

using events::client_label;
using spdlog::level::level_enum;
constexpr auto kInfo = spdlog::level::info;
constexpr auto kWarn = spdlog::level::warn;

std::string reply_line(const smtp::Reply& r) {
  std::string s = std::to_string(r.code);
  if (!r.enhanced.empty()) s += " " + r.enhanced;
  return s + " " + r.text.substr(0, r.text.find('\n'));
}

std::string command_counts_text(const smtp::CommandCounts& c) {
  using smtp::Verb;
  static constexpr std::pair<Verb, const char*> kOrder[] = {
      {Verb::Helo, "helo"},         {Verb::Ehlo, "ehlo"},       {Verb::Lhlo, "lhlo"},
      {Verb::Starttls, "starttls"}, {Verb::Auth, "auth"},       {Verb::Mail, "mail"},
      {Verb::Rcpt, "rcpt"},         {Verb::Data, "data"},       {Verb::Bdat, "bdat"},
      {Verb::Rset, "rset"},         {Verb::Noop, "noop"},       {Verb::Vrfy, "vrfy"},
      {Verb::Expn, "expn"},         {Verb::Etrn, "etrn"},       {Verb::Help, "help"},
      {Verb::Quit, "quit"},         {Verb::Unknown, "unknown"}, {Verb::Invalid, "invalid"},
  };
  std::string out;
  std::uint32_t sent = 0, ok = 0;
  auto item = [&out](const char* name, std::uint32_t good, std::uint32_t all) {
    if (!out.empty()) out += ' ';
    out += name;
    out += '=';
    out += good == all ? std::to_string(all) : std::to_string(good) + "/" + std::to_string(all);
  };
  for (const auto& [verb, name] : kOrder) {
    const auto i = static_cast<std::size_t>(verb);
    if (c.sent[i] == 0) continue;
    item(name, c.ok[i], c.sent[i]);
    sent += c.sent[i];
    ok += c.ok[i];
  }
  item("commands", ok, sent);
  return out;
}

std::string delay_text(double d) {
  std::string s;
  if (d >= 10)
    s = fmt::format("{:.0f}", d);
  else if (d >= 1)
    s = fmt::format("{:.1f}", d);
  else if (d >= 0.01)
    s = fmt::format("{:.2f}", d);
  else
    return "0";
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

namespace {

// A local submission (the submit socket) has a user, not a client host: Postfix's pickup names
// it by uid, and its lines go under taube/pickup (fail2ban's smtpd filters never see them).
bool local(const events::Peer& p) {
  return p.uid >= 0;
}
LogTag session_tag(const events::Peer& p) {
  return local(p) ? LogTag::Pickup : LogTag::Smtpd;
}
std::string who(const events::Peer& p) {
  return local(p) ? "uid=" + std::to_string(p.uid) : client_label(p);
}

}  // namespace

LogTag delivery_tag(const events::Delivery& e) {
  if (e.agent == "local" || e.relay == "local") return LogTag::Local;
  // Postfix's qmgr writes the expiry ("status=expired, returned to sender"), not a delivery agent.
  if (e.status == "expired") return LogTag::Qmgr;
  if (e.agent == "lmtp") return LogTag::Lmtp;
  return LogTag::Smtp;
}

void LogObserver::client_fields(LogFields& f, const events::Peer& p) const {
  if (!f.enabled()) return;
  f.str("client", client_label(p)).str("client_address", p.address);
  if (!p.listener.empty()) f.str("listener", p.listener);
  if (local(p))
    f.num("uid", static_cast<std::uint64_t>(p.uid)).num("pid", static_cast<std::uint64_t>(p.pid));
  if (auto it = tls_.find({p.address, p.port}); it != tls_.end()) f.str("tls", it->second);
}

void LogObserver::connected(const events::Connected& e) {
  auto f = fields("connect");
  client_fields(f, e.peer);
  if (local(e.peer)) {
    write(LogTag::Pickup, spdlog::level::debug, f,
          fmt::format("local submission from uid={} pid={}", e.peer.uid, e.peer.pid));
    return;
  }
  write(LogTag::Smtpd, kInfo, f, "connect from " + client_label(e.peer));
}

void LogObserver::refused(const events::Refused& e) {
  auto f = fields("reject");
  client_fields(f, e.peer);
  f.str("stage", "CONNECT").str("reason", e.reason);
  if (e.reply.code != 0) {
    f.num("code", static_cast<std::uint64_t>(e.reply.code)).str("dsn", e.reply.enhanced);
    write(LogTag::Smtpd, kWarn, f,
          fmt::format("NOQUEUE: reject: CONNECT from {}: {}; {}", client_label(e.peer),
                      reply_line(e.reply), e.reason));
  } else {
    write(LogTag::Smtpd, kWarn, f, fmt::format("warning: {}: {}", client_label(e.peer), e.reason));
  }
}

void LogObserver::rejected(const events::Rejected& e) {
  // Policy refusals are what operators and fail2ban look for; syntax slips are debug noise.
  bool policy = false;
  switch (e.verb) {
    case smtp::Verb::Mail:
    case smtp::Verb::Rcpt:
    case smtp::Verb::Data:
    case smtp::Verb::Bdat:
    case smtp::Verb::Vrfy:
    case smtp::Verb::Expn:
    case smtp::Verb::Etrn:
      policy = true;
      break;
    default:
      break;
  }
  const auto verb = smtp::verb_name(e.verb);
  auto f = fields("reject");
  client_fields(f, e.peer);
  f.str("stage", verb)
      .num("code", static_cast<std::uint64_t>(e.reply.code))
      .str("dsn", e.reply.enhanced);
  f.str("reason", e.reply.text.substr(0, e.reply.text.find('\n')));
  f.str("from", e.from)
      .str("to", e.to)
      .str("helo", e.helo)
      .str("proto", e.esmtp ? "ESMTP" : "SMTP");
  if (policy) {
    // Postfix's smtpd_check reject line, field for field (pflogsumm's proc_smtpd_reject and
    // fail2ban's postfix.conf both parse it).
    write(session_tag(e.peer), kInfo, f,
          fmt::format("NOQUEUE: reject: {} from {}: {}; from=<{}> to=<{}> proto={} helo=<{}>", verb,
                      who(e.peer), reply_line(e.reply), e.from, e.to, e.esmtp ? "ESMTP" : "SMTP",
                      e.helo));
  } else {
    write(session_tag(e.peer), spdlog::level::debug, f,
          fmt::format("reject: {} from {}: {}", verb, who(e.peer), reply_line(e.reply)));
  }
}

void LogObserver::tls_established(const events::TlsEstablished& e) {
  tls_[{e.peer.address, e.peer.port}] = e.version;
  auto f = fields("tls");
  client_fields(f, e.peer);
  f.str("cipher", e.cipher);
  write(LogTag::Smtpd, kInfo, f,
        fmt::format("Anonymous TLS connection established from {}: {} with cipher {}",
                    client_label(e.peer), e.version, e.cipher));
}

void LogObserver::tls_failed(const events::TlsFailed& e) {
  auto f = fields("tls_failed");
  client_fields(f, e.peer);
  f.str("reason", e.reason);
  write(LogTag::Smtpd, kInfo, f,
        fmt::format("SSL_accept error from {}: {}", client_label(e.peer), e.reason));
}

void LogObserver::auth_succeeded(const events::AuthSucceeded& e) {
  auto f = fields("auth");
  client_fields(f, e.peer);
  f.str("sasl_method", e.mechanism).str("sasl_username", e.username);
  write(LogTag::Smtpd, spdlog::level::debug, f,
        fmt::format("{}: SASL {} authentication succeeded: sasl_username={}", client_label(e.peer),
                    e.mechanism, e.username));
}

void LogObserver::auth_failed(const events::AuthFailed& e) {
  auto f = fields("auth_failed");
  client_fields(f, e.peer);
  f.str("sasl_method", e.mechanism).str("sasl_username", e.username);
  // Postfix 3.x: "warning: name[ip]: SASL PLAIN authentication failed: <reason>[,
  // sasl_username=...]" (fail2ban's postfix[mode=auth] matches up to "failed:").
  write(LogTag::Smtpd, kWarn, f,
        fmt::format("warning: {}: SASL {} authentication failed: authentication failure{}",
                    client_label(e.peer), e.mechanism,
                    e.username.empty() ? std::string() : ", sasl_username=" + e.username));
  if (e.banned) {
    auto b = fields("banned");
    client_fields(b, e.peer);
    write(LogTag::Smtpd, kWarn, b,
          fmt::format("warning: {}: banned after repeated authentication failures",
                      client_label(e.peer)));
  }
}

void LogObserver::transaction(const events::Transaction& e) {
  if (!e.accepted) {
    auto f = fields("reject");
    client_fields(f, e.peer);
    f.str("queue_id", e.queue_id)
        .str("stage", "DATA")
        .num("code", static_cast<std::uint64_t>(e.reply.code));
    f.str("dsn", e.reply.enhanced).str("reason", e.reply.text.substr(0, e.reply.text.find('\n')));
    f.str("from", e.from).str("proto", e.protocol).str("helo", e.helo);
    write(session_tag(e.peer), spdlog::level::err, f,
          fmt::format("{}: reject: DATA from {}: {}; from=<{}> proto={} helo=<{}>", e.queue_id,
                      who(e.peer), reply_line(e.reply), e.from, e.protocol, e.helo));
    return;
  }
  if (local(e.peer)) {
    // Postfix's pickup line for mail from its sendmail command (pflogsumm counts "received" on
    // pickup's "uid=" lines as on smtpd's "client=").
    auto f = fields("pickup");
    client_fields(f, e.peer);
    f.str("queue_id", e.queue_id).str("from", e.from);
    write(LogTag::Pickup, kInfo, f,
          fmt::format("{}: uid={} from=<{}>", e.queue_id, e.peer.uid, e.from));
  } else {
    // smtpd's first line of a message: pflogsumm counts "received" on it.
    auto f = fields("client");
    client_fields(f, e.peer);
    f.str("queue_id", e.queue_id);
    if (!e.sasl_username.empty())
      f.str("sasl_method", e.sasl_method).str("sasl_username", e.sasl_username);
    write(LogTag::Smtpd, kInfo, f,
          e.sasl_username.empty()
              ? fmt::format("{}: client={}", e.queue_id, client_label(e.peer))
              : fmt::format("{}: client={}, sasl_method={}, sasl_username={}", e.queue_id,
                            client_label(e.peer), e.sasl_method, e.sasl_username));
  }
  {
    // qmgr's line as the message enters the active queue (pflogsumm takes size= from it).
    auto f = fields("queued");
    f.str("queue_id", e.queue_id).str("from", e.from).num("size", e.size);
    f.num("nrcpt", static_cast<std::uint64_t>(e.to.size())).str("client", client_label(e.peer));
    f.str("proto", e.protocol).str("helo", e.helo);
    write(LogTag::Qmgr, kInfo, f,
          fmt::format("{}: from=<{}>, size={}, nrcpt={} (queue active)", e.queue_id, e.from, e.size,
                      e.to.size()));
  }
  // Local recipients are durable in their Maildirs (or in the delivery journal on the way
  // there) once the 250 is given: delivered, as Postfix's local/virtual would log it. Relayed
  // ones are the queue's to report (delivery()).
  for (const auto& to : e.mailboxes) {
    events::Delivery d;
    d.queue_id = e.queue_id;
    d.to = to;
    d.relay = "local";
    d.delay = e.seconds;
    d.delays[0] = e.seconds;
    d.dsn = "2.0.0";
    d.status = "sent";
    d.reply = "delivered to maildir";
    d.agent = "local";
    delivery(d);
  }
}

void LogObserver::delivery(const events::Delivery& e) {
  auto f = fields("delivery");
  if (f.enabled()) {
    f.str("queue_id", e.queue_id).str("to", e.to);
    if (!e.orig_to.empty()) f.str("orig_to", e.orig_to);
    f.str("relay", e.relay).num("delay", e.delay);
    f.str("delays", fmt::format("{}/{}/{}/{}", delay_text(e.delays[0]), delay_text(e.delays[1]),
                                delay_text(e.delays[2]), delay_text(e.delays[3])));
    f.str("dsn", e.dsn).str("status", e.status).str("reason", e.reply);
  }
  // Postfix's delivery agent line; pflogsumm's regex needs nothing between delays= and dsn=.
  std::string orig = e.orig_to.empty() ? "" : ", orig_to=<" + e.orig_to + ">";
  auto line = fmt::format(
      "{}: to=<{}>{}, relay={}, delay={}, delays={}/{}/{}/{}, dsn={}, status={} ({})", e.queue_id,
      e.to, orig, e.relay, delay_text(e.delay), delay_text(e.delays[0]), delay_text(e.delays[1]),
      delay_text(e.delays[2]), delay_text(e.delays[3]), e.dsn, e.status, e.reply);
  write(delivery_tag(e), e.status == "sent" ? kInfo : kWarn, f, line);
}

void LogObserver::queue_note(const events::QueueNote& e) {
  const LogTag tag = e.tag == "smtp"     ? LogTag::Smtp
                     : e.tag == "bounce" ? LogTag::Bounce
                     : e.tag == "lmtp"   ? LogTag::Lmtp
                     // The administrator's actions (taube queue), as Postfix's tools log them.
                     : e.tag == "postsuper" ? LogTag::Postsuper
                     : e.tag == "postqueue" ? LogTag::Postqueue
                                            : LogTag::Qmgr;
  auto f = fields(e.text == "removed" ? "removed" : "queue");
  if (!e.queue_id.empty()) f.str("queue_id", e.queue_id);
  write(tag, e.warning ? kWarn : kInfo, f,
        fmt::format("{}{}{}", e.queue_id, e.queue_id.empty() ? "" : ": ", e.text));
}

// Postfix's smtp logs each TLS session it opens; "Untrusted": the queue encrypts without
// verifying the peer's certificate (opportunistic TLS, RFC 7435). Failed openings need no line
// of their own: the deferred status lines (and the plaintext-retry warning) carry the reason.
void LogObserver::outbound_opened(const events::OutboundOpened& e) {
  if (e.result != "ok" || e.tls_version.empty()) return;
  auto f = fields("tls_out");
  f.str("relay", e.relay).str("tls", e.tls_version).str("cipher", e.tls_cipher);
  write(LogTag::Smtp, kInfo, f,
        fmt::format("Untrusted TLS connection established to {}: {} with cipher {}", e.relay,
                    e.tls_version, e.tls_cipher));
}

void LogObserver::bare_newlines(const events::BareNewlines& e) {
  auto f = fields("bare_newlines");
  client_fields(f, e.peer);
  f.str("helo", e.helo).num("bare_lf", e.bare_lf).num("bare_cr", e.bare_cr);
  write(LogTag::Smtpd, kWarn, f,
        fmt::format("warning: {} (helo={}) sent bare newlines in DATA: {} bare LF, {} bare CR",
                    client_label(e.peer), e.helo, e.bare_lf, e.bare_cr));
}

void LogObserver::disconnected(const events::Disconnected& e) {
  // Postfix's "after CONNECT" when the client sent no command at all (a health check, a port
  // probe), rather than the name of the "no command yet" verb.
  std::uint32_t sent = 0;
  for (const auto n : e.counts.sent) sent += n;
  const std::string_view last = sent == 0 ? std::string_view("CONNECT") : smtp::verb_name(e.last);
  const std::string client = who(e.peer);
  // A local submission's session is pickup's business, not smtpd's; its end is a debug line
  // (a sendmail killed mid-message still says "lost connection" at info).
  const auto level = local(e.peer) ? spdlog::level::debug : kInfo;
  auto note = [&](std::string_view event, std::string_view what) {
    auto f = fields(event);
    client_fields(f, e.peer);
    f.str("stage", last);
    write(session_tag(e.peer), kInfo, f, fmt::format("{} after {} from {}", what, last, client));
  };
  // Postfix logs "too many errors after X" when it hangs up at smtpd_hard_error_limit, then
  // the disconnect line.
  if (e.too_many_errors)
    note("too_many_errors", "too many errors");
  else if (e.timed_out)
    note("timeout", "timeout");
  else if (e.lost)
    note("lost_connection", "lost connection");
  auto f = fields("disconnect");
  client_fields(f, e.peer);
  const std::string counts = command_counts_text(e.counts);
  f.str("commands", counts);
  write(session_tag(e.peer), level, f, fmt::format("disconnect from {} {}", client, counts));
  tls_.erase({e.peer.address, e.peer.port});
}

}  // namespace taube::app
