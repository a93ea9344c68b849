// What policy knows about the client of a session when it decides. Facts, not decisions: the
// I/O layer fills them in (after the PROXY header, if any, so the address is the real client's).
#pragma once

#include <string>

#include "inet/ip_address.hpp"

namespace taube::policy {

struct ClientFacts {
  inet::IpAddress address;
  std::string helo;
  bool esmtp = false;
  bool tls = false;
  std::string auth_user;  // empty when not authenticated (RFC 4954)
  // A local user on the submission socket (the sendmail command): trusted to relay, as
  // Postfix trusts its pickup.
  bool local_submission = false;
};

}  // namespace taube::policy
