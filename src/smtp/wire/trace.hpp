// Trace headers added at delivery: Return-Path and Received (RFC 5321 §4.4). Pure formatting:
// the caller supplies the date, the id and the channel facts. Lines end in LF (the store format).
#pragma once

#include <string>

#include "smtp/wire/address.hpp"

namespace taube::smtp {

struct TraceInfo {
  std::string helo;       // the client's HELO/EHLO argument
  std::string client_ip;  // "192.0.2.1" or "2001:db8::1"
  std::string hostname;   // ours
  std::string id;         // the queue id
  std::string for_rcpt;   // the single recipient, or empty for several (privacy, §7.2)
  std::string date;       // RFC 5322 date-time
  bool esmtp = false;
  bool tls = false;
  bool authenticated = false;
  bool smtputf8 = false;
  bool lmtp = false;      // the session was LMTP (RFC 2033): "with LMTP"
  std::string tls_info;   // e.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384", may be empty
  std::string auth_user;  // shown as "(Authenticated sender: ...)" when authenticated
  // A local submission (the sendmail command on the submit socket): the submitter's uid. The
  // header is then Postfix's pickup form, "by <host> (Taube, from userid 1000) id <id>; <date>"
  // (no "from" clause: there is no client host, RFC 5322 §3.6.7 makes it optional).
  long long local_uid = -1;
};

// "Received: from <helo> ([ip]) by <host> (Taube) with <protocol> id <id> for <rcpt>; <date>",
// folded over several lines. <protocol> per RFC 3848 / RFC 6531 §3.7.3: SMTP, ESMTP, ESMTPS,
// ESMTPSA, UTF8SMTP, UTF8SMTPS, UTF8SMTPSA, LMTP, LMTPS, LMTPSA, UTF8LMTP ...
std::string received_header(const TraceInfo& t);

// "Return-Path: <sender>" (RFC 5321 §4.4); "<>" for the null sender.
std::string return_path_header(const Path& sender);

}  // namespace taube::smtp
