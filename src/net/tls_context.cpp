#include "net/tls_context.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace taube::net {

namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

tl::expected<std::shared_ptr<asio::ssl::context>, std::string> make_tls_context(
    const TlsConfig& c) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  // RFC 8314 §4.1 / BCP 195: TLS 1.2 or later only.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256") != 1)
    return tl::unexpected("cipher list: " + openssl_error());
  if (SSL_CTX_use_certificate_chain_file(native, c.certificate.c_str()) != 1)
    return tl::unexpected("certificate " + c.certificate + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(native, c.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return tl::unexpected("key " + c.key + ": " + openssl_error());
  if (SSL_CTX_check_private_key(native) != 1)
    return tl::unexpected("key " + c.key + " does not match " + c.certificate);
  // Server-side session cache helps clients that reconnect often (MTAs do).
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  static const unsigned char sid[] = "taube";
  SSL_CTX_set_session_id_context(native, sid, sizeof sid - 1);
  return ctx;
}

tl::expected<std::shared_ptr<asio::ssl::context>, std::string> make_client_tls_context(
    bool verify) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (verify) {
    if (SSL_CTX_set_default_verify_paths(native) != 1)
      return tl::unexpected("trust store: " + openssl_error());
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

tl::expected<void, std::string> ensure_self_signed(const TlsConfig& c,
                                                   const std::string& hostname) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(c.certificate, ec) && fs::exists(c.key, ec)) return {};
  for (const auto& p : {c.certificate, c.key}) {
    const auto dir = fs::path(p).parent_path();
    if (!dir.empty()) fs::create_directories(dir, ec);
  }
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  if (pkey == nullptr) return tl::unexpected("key generation: " + openssl_error());
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 60L * 60 * 24 * 3650);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  const std::string san = "DNS:" + hostname;
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  std::string err;
  if (X509_sign(x, pkey, EVP_sha256()) == 0) err = "sign: " + openssl_error();
  if (err.empty()) {
    const mode_t old = umask(077);
    FILE* kf = std::fopen(c.key.c_str(), "w");
    umask(old);
    if (kf == nullptr || PEM_write_PrivateKey(kf, pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1)
      err = "cannot write " + c.key;
    if (kf) std::fclose(kf);
  }
  if (err.empty()) {
    FILE* cf = std::fopen(c.certificate.c_str(), "w");
    if (cf == nullptr || PEM_write_X509(cf, x) != 1) err = "cannot write " + c.certificate;
    if (cf) std::fclose(cf);
  }
  X509_free(x);
  EVP_PKEY_free(pkey);
  if (!err.empty()) return tl::unexpected(err);
  return {};
}

std::string describe_tls(SSL* ssl) {
  if (ssl == nullptr) return {};
  return std::string(SSL_get_version(ssl)) + " with cipher " + SSL_get_cipher_name(ssl);
}

}  // namespace taube::net
