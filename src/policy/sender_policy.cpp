#include "policy/sender_policy.hpp"

#include "smtp/wire/address.hpp"

namespace taube::policy {

smtp::MailVerdict decide_sender(const SenderRules& rules, const Directory& dir,
                                const ClientFacts& client, const smtp::Path& sender) {
  const std::string& user = client.auth_user;
  if (user.empty() || !rules.restrict_sender || sender.null || sender.mailbox.empty())
    return smtp::MailVerdict::Accept;
  const smtp::Mailbox& mb = sender.mailbox;
  bool own;
  if (const auto at = user.rfind('@'); at != std::string::npos) {
    // Local parts compare exactly (RFC 5321 §2.4), domains case-insensitively.
    own =
        user.substr(0, at) == mb.local_part && smtp::ascii_iequals(user.substr(at + 1), mb.domain);
  } else {
    own = mb.local_part == user && dir.is_local_domain(mb.domain);
  }
  return own ? smtp::MailVerdict::Accept : smtp::MailVerdict::NotOwned;
}

}  // namespace taube::policy
