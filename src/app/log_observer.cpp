#include "app/log_observer.hpp"

#include <spdlog/spdlog.h>

namespace taube::app {

using events::client_label;

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

void LogObserver::connected(const events::Connected& e) {
  spdlog::info("connect from {}", client_label(e.peer));
}

void LogObserver::refused(const events::Refused& e) {
  if (e.reply.code != 0) {
    spdlog::warn("NOQUEUE: reject: CONNECT from {}: {}; {}", client_label(e.peer),
                 reply_line(e.reply), e.reason);
  } else {
    spdlog::warn("warning: {}: {}", client_label(e.peer), e.reason);
  }
}

void LogObserver::rejected(const events::Rejected& e) {
  // Policy refusals are what operators and fail2ban look for; syntax slips are debug noise.
  switch (e.verb) {
    case smtp::Verb::Mail:
    case smtp::Verb::Rcpt:
    case smtp::Verb::Data:
    case smtp::Verb::Bdat:
    case smtp::Verb::Vrfy:
    case smtp::Verb::Expn:
    case smtp::Verb::Etrn:
      spdlog::info("NOQUEUE: reject: {} from {}: {}; from=<{}> to=<{}> proto={} helo=<{}>",
                   smtp::verb_name(e.verb), client_label(e.peer), reply_line(e.reply), e.from, e.to,
                   e.esmtp ? "ESMTP" : "SMTP", e.helo);
      return;
    default:
      spdlog::debug("reject: {} from {}: {}", smtp::verb_name(e.verb), client_label(e.peer),
                    reply_line(e.reply));
  }
}

void LogObserver::tls_established(const events::TlsEstablished& e) {
  spdlog::info("Anonymous TLS connection established from {}: {} with cipher {}",
               client_label(e.peer), e.version, e.cipher);
}

void LogObserver::tls_failed(const events::TlsFailed& e) {
  spdlog::info("SSL_accept error from {}: {}", client_label(e.peer), e.reason);
}

void LogObserver::auth_succeeded(const events::AuthSucceeded& e) {
  spdlog::debug("{}: SASL {} authentication succeeded: sasl_username={}", client_label(e.peer),
                e.mechanism, e.username);
}

void LogObserver::auth_failed(const events::AuthFailed& e) {
  spdlog::warn("warning: {}: SASL {} authentication failed: sasl_username={}", client_label(e.peer),
               e.mechanism, e.username);
  if (e.banned)
    spdlog::warn("warning: {}: banned after repeated authentication failures",
                 client_label(e.peer));
}

void LogObserver::transaction(const events::Transaction& e) {
  if (!e.accepted) {
    spdlog::error("{}: reject: DATA from {}: {}; from=<{}> proto={} helo=<{}>", e.queue_id,
                  client_label(e.peer), reply_line(e.reply), e.from, e.protocol, e.helo);
    return;
  }
  if (e.sasl_username.empty()) {
    spdlog::info("{}: client={}", e.queue_id, client_label(e.peer));
  } else {
    spdlog::info("{}: client={}, sasl_method={}, sasl_username={}", e.queue_id,
                 client_label(e.peer), e.sasl_method, e.sasl_username);
  }
  spdlog::info("{}: from=<{}>, size={}, nrcpt={} (queue active)", e.queue_id, e.from, e.size,
               e.to.size());
  // Local recipients are durable in their Maildirs (or in the delivery journal on the way
  // there) once the 250 is given; relayed ones are the queue's to report.
  for (const auto& to : e.mailboxes)
    spdlog::info(
        "{}: to=<{}>, relay=local, delay={:.2f}, delays={:.2f}/0/0/0, dsn=2.0.0, "
        "status=sent (delivered to maildir)",
        e.queue_id, to, e.seconds, e.seconds);
  // Relayed recipients are logged by the queue as their attempts end (delivery()).
}

namespace {

// Postfix's delay format: two significant digits without exponent ("0.12", "1.3", "14", "0").
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

}  // namespace

void LogObserver::delivery(const events::Delivery& e) {
  // Postfix's smtp(8) line; pflogsumm's regex needs nothing between delays= and dsn=.
  std::string orig = e.orig_to.empty() ? "" : ", orig_to=<" + e.orig_to + ">";
  auto line = fmt::format(
      "{}: to=<{}>{}, relay={}, delay={}, delays={}/{}/{}/{}, dsn={}, status={} ({})", e.queue_id,
      e.to, orig, e.relay, delay_text(e.delay), delay_text(e.delays[0]), delay_text(e.delays[1]),
      delay_text(e.delays[2]), delay_text(e.delays[3]), e.dsn, e.status, e.reply);
  if (e.status == "sent")
    spdlog::info("{}", line);
  else
    spdlog::warn("{}", line);
}

void LogObserver::queue_note(const events::QueueNote& e) {
  if (e.warning)
    spdlog::warn("{}{}{}", e.queue_id, e.queue_id.empty() ? "" : ": ", e.text);
  else
    spdlog::info("{}{}{}", e.queue_id, e.queue_id.empty() ? "" : ": ", e.text);
}

void LogObserver::bare_newlines(const events::BareNewlines& e) {
  spdlog::warn("warning: {} (helo={}) sent bare newlines in DATA: {} bare LF, {} bare CR",
               client_label(e.peer), e.helo, e.bare_lf, e.bare_cr);
}

void LogObserver::disconnected(const events::Disconnected& e) {
  // Postfix's "after CONNECT" when the client sent no command at all (a health check, a port
  // probe), rather than the name of the "no command yet" verb.
  std::uint32_t sent = 0;
  for (const auto n : e.counts.sent) sent += n;
  const std::string_view last = sent == 0 ? std::string_view("CONNECT") : smtp::verb_name(e.last);
  if (e.timed_out)
    spdlog::info("timeout after {} from {}", last, client_label(e.peer));
  else if (e.lost)
    spdlog::info("lost connection after {} from {}", last, client_label(e.peer));
  spdlog::info("disconnect from {} {}", client_label(e.peer), command_counts_text(e.counts));
}

}  // namespace taube::app
