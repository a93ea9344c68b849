#include "queue/dsn.hpp"

#include <algorithm>

#include "queue/mail_text.hpp"
#include "smtp/wire/ascii.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::queue {

namespace {

constexpr DsnAction kActionOrder[] = {DsnAction::Failed, DsnAction::Delayed, DsnAction::Delivered,
                                      DsnAction::Relayed, DsnAction::Expanded};

// RFC 3463 §2: class "." subject "." detail; class 2, 4 or 5, subject and detail 1-3 digits.
bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    const std::size_t start = i;
    while (i < s.size() && smtp::is_ascii_digit(s[i])) ++i;
    if (i == start || i - start > 3) return false;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

bool all_graphic(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), smtp::is_ascii_graphic);
}

// Our own host name, as configured: letters, digits, "-", "_" and ".".
bool valid_hostname(std::string_view s) {
  return !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return smtp::is_ascii_alnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// RFC 2046 §5.1.1 bchars, without the space (Taube folds header fields at spaces).
bool valid_boundary(std::string_view b) {
  if (b.empty() || b.size() > 70) return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return smtp::is_ascii_alnum(c) ||
           std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
  });
}

// An RFC 3464 address-type or diagnostic-type: an atom of letters, digits and "-".
std::string clean_type(std::string_view t, std::string_view fallback) {
  std::string out;
  for (const char c : t)
    if (smtp::is_ascii_alnum(c) || c == '-') out += c;
  return out.empty() ? std::string(fallback) : out;
}

std::string clean_value(std::string_view v, TextCharset cs) {
  return std::string(utf8_prefix(clean_text(v, cs), kMaxReportValue));
}

// "type; address" for Final-Recipient / Original-Recipient (RFC 3464 §2.3.1-2, RFC 6533 §3).
std::string address_value(std::string_view type, std::string_view addr, bool global) {
  const bool utf8_type = smtp::ascii_iequals(type, "utf-8") || !smtp::is_ascii(addr);
  if (!utf8_type) return clean_type(type, "rfc822") + "; " + clean_value(addr, TextCharset::Ascii);
  // A 7-bit report carries a UTF-8 address as utf-8-addr-xtext; a global one carries it as is.
  if (global) return "utf-8; " + clean_value(addr, TextCharset::Utf8);
  if (auto x = smtp::encode_utf8_addr_xtext(addr))
    return "utf-8; " + clean_value(*x, TextCharset::Ascii);
  return "utf-8; " + clean_value(addr, TextCharset::Ascii);
}

std::string_view subject_for(const std::vector<RecipientReport>& reports) {
  const auto has = [&](DsnAction a) {
    return std::any_of(reports.begin(), reports.end(),
                       [a](const auto& r) { return r.action == a; });
  };
  if (has(DsnAction::Failed)) return "Undelivered Mail Returned to Sender";
  if (has(DsnAction::Delayed)) return "Delayed Mail (still being retried)";
  if (has(DsnAction::Delivered) || has(DsnAction::Expanded))
    return "Successful Mail Delivery Report";
  return "Relayed Mail";
}

struct Original {
  std::string headers;  // the header block, each line ending in LF, no line over 998 octets
  std::string whole;    // the whole message, when it is returned whole
  bool full = false;
  bool too_big = false;  // RET=FULL was asked for a failure but only the headers are returned
};

// Cuts lines over kMaxLineOctets into continuation lines (a returned header block is for
// reading; keeping it parseable wins over keeping it byte-exact).
std::string bound_lines(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    bool first = true;
    do {
      const std::size_t room = first ? kMaxLineOctets : kMaxLineOctets - 1;
      std::string_view head = utf8_prefix(line, room);
      if (head.empty() && !line.empty()) head = line.substr(0, room);
      if (!first) out += ' ';
      out += head;
      out += '\n';
      line.remove_prefix(head.size());
      first = false;
    } while (!line.empty());
  }
  return out;
}

bool has_long_line(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl - start > kMaxLineOctets) return true;
    start = nl + 1;
  }
  return false;
}

Original split_original(std::string_view in, bool want_full, std::size_t max_full) {
  std::string clean;
  clean.reserve(in.size() + 1);
  for (const char c : in)
    if (c != '\r') clean += c;
  if (!clean.empty() && clean.back() != '\n') clean += '\n';
  Original o;
  // RFC 5322 §2.1: the header ends at the first empty line (there may be none at all).
  std::string_view head = clean;
  if (clean.starts_with('\n')) {
    head = {};
  } else if (const std::size_t end = clean.find("\n\n"); end != std::string::npos) {
    head = head.substr(0, end + 1);
  }
  o.headers = bound_lines(head);
  if (want_full) {
    if (clean.size() <= max_full && !has_long_line(clean)) {
      o.whole = std::move(clean);
      o.full = true;
    } else {
      o.too_big = true;
    }
  }
  return o;
}

void add_field(std::string& out, std::string_view name, std::string_view value) {
  out += header_field(name, value);
}

std::string delivery_status(const QueueEnvelope& env, const DsnRequest& req, bool global) {
  const TextCharset cs = global ? TextCharset::Utf8 : TextCharset::Ascii;
  std::string s;
  // RFC 3464 §2.2: per-message fields.
  add_field(s, "Reporting-MTA", "dns; " + req.reporting_mta);
  if (!env.id.empty()) add_field(s, "X-Taube-Queue-ID", clean_value(env.id, TextCharset::Ascii));
  if (env.params.envid) add_field(s, "Original-Envelope-Id", clean_value(*env.params.envid, cs));
  add_field(s, "Arrival-Date", rfc5322_date(env.arrival));
  // RFC 3464 §2.3: per-recipient fields, each group after an empty line.
  for (const RecipientReport& r : req.reports) {
    s += '\n';
    if (!r.original_type.empty())
      add_field(s, "Original-Recipient",
                address_value(r.original_type, r.original_address, global));
    add_field(s, "Final-Recipient", address_value("rfc822", r.final_recipient, global));
    add_field(s, "Action", to_string(r.action));
    add_field(s, "Status", r.status);
    if (!r.remote_mta.empty()) add_field(s, "Remote-MTA", "dns; " + clean_value(r.remote_mta, cs));
    if (!r.diagnostic.empty())
      add_field(s, "Diagnostic-Code",
                clean_type(r.diagnostic_type, "smtp") + "; " + clean_value(r.diagnostic, cs));
    if (r.last_attempt) add_field(s, "Last-Attempt-Date", rfc5322_date(*r.last_attempt));
    // RFC 3464 §2.3.9: Will-Retry-Until belongs to delayed reports only.
    if (r.will_retry_until && r.action == DsnAction::Delayed)
      add_field(s, "Will-Retry-Until", rfc5322_date(*r.will_retry_until));
  }
  return s;
}

std::string_view intro_for(DsnAction a) {
  switch (a) {
    case DsnAction::Failed:
      return "Your message could not be delivered to the recipients below. This is final: it "
             "will not be tried again.";
    case DsnAction::Delayed:
      return "Your message has not been delivered yet to the recipients below. Delivery is "
             "still being retried; you do not need to send it again.";
    case DsnAction::Delivered:
      return "Your message was delivered to the recipients below.";
    case DsnAction::Relayed:
      return "Your message was passed on for the recipients below to a mail system that does "
             "not report deliveries: no further report will follow.";
    case DsnAction::Expanded:
      return "Your message was delivered to the lists or aliases below, which passed it on to "
             "their members.";
  }
  return {};
}

std::string human_text(const DsnRequest& req, const Original& orig, bool global) {
  const TextCharset cs = global ? TextCharset::Utf8 : TextCharset::Ascii;
  std::string t = wrap_text("This is the mail system at " + req.reporting_mta + ".", "");
  for (const DsnAction a : kActionOrder) {
    std::string lines;
    std::optional<std::int64_t> until;
    for (const RecipientReport& r : req.reports) {
      if (r.action != a) continue;
      if (r.will_retry_until && !until) until = r.will_retry_until;
      std::string line = "<" + clean_value(r.final_recipient, cs) + ">";
      if (!r.expanded_from.empty())
        line += " (expanded from <" + clean_value(r.expanded_from, cs) + ">)";
      if (!r.diagnostic.empty() && !r.remote_mta.empty())
        line +=
            ": host " + clean_value(r.remote_mta, cs) + " said: " + clean_value(r.diagnostic, cs);
      else if (!r.diagnostic.empty())
        line += ": " + clean_value(r.diagnostic, cs);
      else
        line += ": status " + r.status;
      lines += wrap_text(line, "    ");
    }
    if (lines.empty()) continue;
    std::string intro(intro_for(a));
    if (a == DsnAction::Delayed && until)
      intro += " It will be given up after " + rfc5322_date(*until) + ".";
    t += '\n' + wrap_text(intro, "") + '\n' + lines;
  }
  t += '\n';
  if (orig.full)
    t += wrap_text("The message is attached below.", "");
  else if (orig.too_big)
    t += wrap_text(
        "The message is too large or has lines too long to be returned whole; its "
        "header is attached below.",
        "");
  else
    t += wrap_text("The header of the message is attached below.", "");
  t += wrap_text(
      "If you need help, send this report to the postmaster of " + req.reporting_mta + ".", "");
  return t;
}

}  // namespace

std::string_view describe(DsnError error) {
  switch (error) {
    case DsnError::NullSender:
      return "the sender is <>";
    case DsnError::NoReports:
      return "nothing to report";
    case DsnError::BadStatus:
      return "bad status code";
    case DsnError::BadHostname:
      return "bad reporting host name";
    case DsnError::BadMessageId:
      return "bad Message-ID";
    case DsnError::BadBoundary:
      return "bad MIME boundary";
    case DsnError::BoundaryInContent:
      return "the MIME boundary occurs in the content";
  }
  return "unknown error";
}

tl::expected<Dsn, DsnError> build_dsn(const QueueEnvelope& envelope, const DsnRequest& request,
                                      std::string_view original) {
  using tl::unexpected;
  if (envelope.sender.null) return unexpected(DsnError::NullSender);
  if (request.reports.empty()) return unexpected(DsnError::NoReports);
  for (const RecipientReport& r : request.reports)
    if (!valid_status(r.status)) return unexpected(DsnError::BadStatus);
  if (!valid_hostname(request.reporting_mta)) return unexpected(DsnError::BadHostname);
  const std::string_view mid = request.message_id;
  if (!all_graphic(mid) || mid.size() < 3 || mid.front() != '<' || mid.back() != '>' ||
      mid.size() > kMaxLineOctets - 20)
    return unexpected(DsnError::BadMessageId);
  if (!valid_boundary(request.boundary)) return unexpected(DsnError::BadBoundary);

  const std::string sender = envelope.sender.mailbox.to_string();
  // RFC 6533 §6: the DSN of an SMTPUTF8 message uses the global media types.
  const bool global = envelope.params.smtputf8 || !smtp::is_ascii(sender);
  const bool any_failed = std::any_of(request.reports.begin(), request.reports.end(),
                                      [](const auto& r) { return r.action == DsnAction::Failed; });
  // RFC 3461 §4.3: RET=FULL asks for the whole message in a failure DSN; every other notice, and
  // RET=HDRS or no RET, returns the header only.
  const bool want_full = envelope.params.ret == smtp::DsnRet::Full && any_failed;
  const Original orig = split_original(original, want_full, request.max_returned_content);

  const std::string text = human_text(request, orig, global);
  const std::string status = delivery_status(envelope, request, global);
  const std::string& returned = orig.full ? orig.whole : orig.headers;
  const std::string_view returned_type =
      orig.full ? (global ? "message/global" : "message/rfc822")
                : (global ? "message/global-headers" : "text/rfc822-headers");

  const auto cte = [](std::string_view body) {
    return smtp::is_ascii(body) ? std::string{} : header_field("Content-Transfer-Encoding", "8bit");
  };
  const std::string delimiter = "--" + request.boundary + "\n";

  std::string top;
  add_field(top, "From", "Mail Delivery System <MAILER-DAEMON@" + request.reporting_mta + ">");
  add_field(top, "To",
            "<" + clean_value(sender, global ? TextCharset::Utf8 : TextCharset::Ascii) + ">");
  add_field(top, "Subject", subject_for(request.reports));
  add_field(top, "Date", rfc5322_date(request.date));
  add_field(top, "Message-ID", request.message_id);
  add_field(top, "Auto-Submitted", "auto-replied");  // RFC 3834 §5
  add_field(top, "MIME-Version", "1.0");
  // RFC 6522 §3: report-type names the subtype of the second part.
  top += std::string("Content-Type: multipart/report; report-type=") +
         (global ? "global-delivery-status" : "delivery-status") + ";\n boundary=\"" +
         request.boundary + "\"\n";

  std::string body = "This is a MIME-formatted delivery status notification.\n\n";
  body += delimiter;
  add_field(body, "Content-Description", "Notification");
  add_field(body, "Content-Type",
            global ? "text/plain; charset=utf-8" : "text/plain; charset=us-ascii");
  body += cte(text) + "\n" + text + "\n";
  body += delimiter;
  add_field(body, "Content-Description", "Delivery report");
  add_field(body, "Content-Type",
            global ? "message/global-delivery-status" : "message/delivery-status");
  body += cte(status) + "\n" + status + "\n";
  body += delimiter;
  add_field(body, "Content-Description", orig.full ? "Undelivered message" : "Message header");
  add_field(body, "Content-Type", returned_type);
  // An empty part still needs its line before the delimiter (RFC 2046 §5.1.1: the delimiter's
  // line break is not part of the content).
  body += cte(returned) + "\n" + returned + (returned.empty() ? "\n" : "");
  body += "--" + request.boundary + "--\n";

  // RFC 2046 §5.1.1: the boundary must not occur in any encapsulated part. Checked on the result,
  // so the reports, the addresses and the returned message are all covered.
  std::size_t count = 0;
  for (std::size_t at = body.find(request.boundary); at != std::string::npos;
       at = body.find(request.boundary, at + 1))
    ++count;
  if (count != 4 || top.find(request.boundary) != top.rfind(request.boundary))
    return unexpected(DsnError::BoundaryInContent);

  if (!smtp::is_ascii(body)) top += header_field("Content-Transfer-Encoding", "8bit");
  Dsn dsn;
  dsn.global = global;
  dsn.smtputf8 = !smtp::is_ascii(top);
  dsn.eight_bit = dsn.smtputf8 || !smtp::is_ascii(body);
  dsn.full_content = orig.full;
  dsn.message = top + "\n" + body;
  return dsn;
}

}  // namespace taube::queue
