#include "net/channel_policy.hpp"

namespace taube::net {

smtp::ChannelPolicy channel_policy_for(const ListenerConfig& l, const Credentials& c) {
  smtp::ChannelPolicy p;
  p.dialect = l.protocol;
  const bool tls = c.tls != nullptr;
  // Implicit TLS listeners have TLS from the start; STARTTLS is for the others.
  p.starttls = tls && (l.tls == TlsMode::StartTls || l.tls == TlsMode::Required);
  p.tls_required = tls && l.tls == TlsMode::Required;
  p.auth = l.auth && c.users != nullptr;
  p.scram = p.auth && c.users->has_scram();
  p.plaintext_auth = l.plaintext_auth;
  p.auth_required = l.submission;  // RFC 6409 §4.3
  return p;
}

}  // namespace taube::net
