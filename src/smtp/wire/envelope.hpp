// Value types of one mail transaction, shared with the store and I/O layers.
#pragma once

#include <string>
#include <vector>

#include "smtp/wire/address.hpp"
#include "smtp/wire/esmtp_params.hpp"

namespace taube::smtp {

// Where one copy of a message goes, as recipient policy decided (the protocol core carries it
// without interpreting it; the message sinks do).
struct Destination {
  enum class Route {
    Mailbox,  // local delivery: `target` is a Maildir directory
    Queue,    // onward delivery: `target` is the address the queue delivers to
  };
  Route route = Route::Mailbox;
  std::string target;
  friend bool operator==(const Destination&, const Destination&) = default;
};

struct Recipient {
  Mailbox mailbox;
  RcptParams params;
  // One or more for an accepted recipient (an alias fans out), decided by the recipient policy.
  std::vector<Destination> destinations;
};

struct Envelope {
  Path sender;
  MailParams mail_params;
  std::vector<Recipient> recipients;
  bool bdat = false;  // body arrives in BDAT chunks (RFC 3030)
};

// What the session knows about its peer and channel, for trace headers and logs.
struct ClientInfo {
  std::string address;    // IP address as text, e.g. "127.0.0.1" or "::1"
  std::string helo;       // the HELO/EHLO argument
  bool esmtp = false;     // EHLO rather than HELO
  bool tls = false;       // TLS active (STARTTLS done or implicit TLS)
  std::string tls_info;   // "TLSv1.3 TLS_AES_256_GCM_SHA384", for Received
  std::string auth_user;  // the authenticated identity, empty if none (RFC 4954)
};

}  // namespace taube::smtp
