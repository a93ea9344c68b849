#include "smtp/wire/trace.hpp"

namespace taube::smtp {

namespace {

// The HELO name is the client's claim; keep it from breaking out of its clause or the header.
std::string sanitize(std::string_view s) {
  std::string r;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e || c == '(' || c == ')' || c == '\\' || c == ';')
      r.push_back('_');
    else
      r.push_back(static_cast<char>(c));
  }
  return r.empty() ? std::string("unknown") : r;
}

std::string address_literal(const std::string& ip) {
  // RFC 5321 §4.1.3: IPv6 literals carry the "IPv6:" tag.
  if (ip.find(':') != std::string::npos) return "[IPv6:" + ip + "]";
  return "[" + ip + "]";
}

}  // namespace

std::string received_header(const TraceInfo& t) {
  if (t.local_uid >= 0) {
    std::string h = "Received: by " + t.hostname + " (Taube, from userid " +
                    std::to_string(t.local_uid) + ")\n\tid " + t.id;
    if (!t.for_rcpt.empty()) h += "\n\tfor <" + t.for_rcpt + ">";
    return h + "; " + t.date + "\n";
  }
  // RFC 3848 §2 registers LMTP (LHLO) beside ESMTP, both with the S and A suffixes; RFC 6531
  // §3.7.3 the UTF8 forms of each.
  std::string proto = t.lmtp ? (t.smtputf8 ? "UTF8LMTP" : "LMTP")
                             : (t.smtputf8 ? "UTF8SMTP" : (t.esmtp ? "ESMTP" : "SMTP"));
  if (t.lmtp || t.smtputf8 || t.esmtp) {
    if (t.tls) proto += "S";
    if (t.authenticated) proto += "A";
  }
  std::string h =
      "Received: from " + sanitize(t.helo) + " (" + address_literal(t.client_ip) + ")\n";
  if (t.authenticated && !t.auth_user.empty())
    h += "\t(Authenticated sender: " + sanitize(t.auth_user) + ")\n";
  h += "\tby " + t.hostname + " (Taube) with " + proto;
  if (!t.tls_info.empty()) h += " (" + t.tls_info + ")";
  h += " id " + t.id;
  if (!t.for_rcpt.empty()) h += "\n\tfor <" + t.for_rcpt + ">";
  h += "; " + t.date + "\n";
  return h;
}

std::string return_path_header(const Path& sender) {
  if (sender.null) return "Return-Path: <>\n";
  return "Return-Path: <" + sender.mailbox.to_string() + ">\n";
}

}  // namespace taube::smtp
