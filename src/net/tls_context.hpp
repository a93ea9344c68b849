// TLS server contexts (OpenSSL 3 through asio::ssl): TLS 1.2 and 1.3 only, forward-secret AEAD
// ciphers, no compression or renegotiation. Certificates can be reloaded (SIGHUP); connections
// keep the context they started with.
#pragma once

#include <memory>
#include <string>

#include <asio/ssl/context.hpp>
#include <tl/expected.hpp>

namespace taube::net {

struct TlsConfig {
  std::string certificate;  // PEM chain
  std::string key;          // PEM private key
};

// Builds a server context from the configured files.
tl::expected<std::shared_ptr<asio::ssl::context>, std::string> make_tls_context(const TlsConfig& c);

// A client context for outbound SMTP: TLS 1.2 and 1.3. verify = false for opportunistic TLS
// (RFC 7435: encryption without authentication beats plaintext; most MX certificates would not
// verify against a host name from DNS without DNSSEC anyway); true checks the chain against the
// system's trust store.
tl::expected<std::shared_ptr<asio::ssl::context>, std::string> make_client_tls_context(bool verify);

// Writes a self-signed certificate (EC P-256, SHA-256, 10 years, CN and subjectAltName = hostname)
// and its key (mode 0600) unless both files exist already.
tl::expected<void, std::string> ensure_self_signed(const TlsConfig& c, const std::string& hostname);

// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" for the Received header and logs.
std::string describe_tls(SSL* ssl);

}  // namespace taube::net
