// Sender policy: MAIL FROM (RFC 5321 §4.1.1.2) -> a verdict kind. Today restrict_sender for
// authenticated users (RFC 4954 §5: the server decides which identities a login may use); SPF
// (RFC 7208) comes here later.
#pragma once

#include "policy/client_facts.hpp"
#include "policy/directory.hpp"
#include "smtp/server/verdicts.hpp"

namespace taube::policy {

struct SenderRules {
  // An authenticated user may only send as its own address: the login itself when it is an
  // address, login@<a local domain> when it is a bare name. <> is always allowed (bounces).
  bool restrict_sender = true;
};

smtp::MailVerdict decide_sender(const SenderRules& rules, const Directory& dir,
                                const ClientFacts& client, const smtp::Path& sender);

}  // namespace taube::policy
