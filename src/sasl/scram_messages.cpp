#include "sasl/scram_messages.hpp"

#include "smtp/wire/base64.hpp"

namespace taube::sasl {

namespace {

// RFC 5802 §7: value = 1*value-char (UTF8-char except NUL, ',' and '='), printable for nonces.
bool valid_nonce(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  return true;
}

// saslname = 1*(value-safe-char / "=2C" / "=3D")
tl::expected<std::string, std::string> decode_saslname(std::string_view s) {
  if (s.empty()) return tl::unexpected(std::string("empty name"));
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\0' || c == ',') return tl::unexpected(std::string("bad character in name"));
    if (c != '=') {
      out += c;
      continue;
    }
    const std::string_view esc = s.substr(i + 1, 2);
    if (esc == "2C") {
      out += ',';
    } else if (esc == "3D") {
      out += '=';
    } else {
      return tl::unexpected(std::string("bad '=' escape in name"));
    }
    i += 2;
  }
  return out;
}

// Splits off the next ','-terminated attribute.
std::string_view next_attr(std::string_view& s) {
  const auto comma = s.find(',');
  std::string_view a = s.substr(0, comma);
  s.remove_prefix(comma == std::string_view::npos ? s.size() : comma + 1);
  return a;
}

// Canonical base64 (RFC 4648 §4), as base64_decode() accepts it; empty is not a value here.
bool is_base64_text(std::string_view s) {
  return !s.empty() && smtp::base64_decode(s).has_value();
}

// A positive decimal number that fits an int.
bool parse_count(std::string_view s, int& out) {
  if (s.empty() || s.size() > 10) return false;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 0x7fffffff) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

tl::expected<ScramClientFirst, std::string> parse_scram_client_first(std::string_view msg) {
  ScramClientFirst out;
  std::string_view s = msg;
  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  const std::string_view flag = next_attr(s);
  if (flag.substr(0, 2) == "p=") return tl::unexpected(std::string("channel binding requested"));
  if (flag != "n" && flag != "y") return tl::unexpected(std::string("bad gs2 header"));
  if (msg.size() < 2 || msg[1] != ',') return tl::unexpected(std::string("bad gs2 header"));
  const std::string_view authz = next_attr(s);
  if (!authz.empty()) {
    if (authz.substr(0, 2) != "a=") return tl::unexpected(std::string("bad authzid"));
    auto a = decode_saslname(authz.substr(2));
    if (!a) return tl::unexpected(a.error());
    out.authzid = std::move(*a);
  }
  out.gs2_header = std::string(msg.substr(0, msg.size() - s.size()));
  if (out.gs2_header.empty() || out.gs2_header.back() != ',')
    return tl::unexpected(std::string("bad gs2 header"));
  out.bare = std::string(s);
  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  std::string_view user = next_attr(s);
  if (user.substr(0, 2) == "m=") return tl::unexpected(std::string("mandatory extension"));
  if (user.substr(0, 2) != "n=") return tl::unexpected(std::string("expected n=username"));
  auto name = decode_saslname(user.substr(2));
  if (!name) return tl::unexpected(name.error());
  out.username = std::move(*name);
  const std::string_view nonce = next_attr(s);
  if (nonce.substr(0, 2) != "r=" || !valid_nonce(nonce.substr(2)))
    return tl::unexpected(std::string("expected r=nonce"));
  out.nonce = std::string(nonce.substr(2));
  return out;  // optional extensions after the nonce are ignored (RFC 5802 §5.1)
}

tl::expected<ScramClientFinal, std::string> parse_scram_client_final(std::string_view msg) {
  ScramClientFinal out;
  const auto p = msg.rfind(",p=");
  if (p == std::string_view::npos) return tl::unexpected(std::string("expected p=proof"));
  out.without_proof = std::string(msg.substr(0, p));
  out.proof = std::string(msg.substr(p + 3));
  if (!is_base64_text(out.proof)) return tl::unexpected(std::string("bad proof"));
  std::string_view s = out.without_proof;
  const std::string_view cb = next_attr(s);
  if (cb.substr(0, 2) != "c=" || !is_base64_text(cb.substr(2)))
    return tl::unexpected(std::string("expected c=channel-binding"));
  out.channel_binding = std::string(cb.substr(2));
  const std::string_view nonce = next_attr(s);
  if (nonce.substr(0, 2) != "r=" || !valid_nonce(nonce.substr(2)))
    return tl::unexpected(std::string("expected r=nonce"));
  out.nonce = std::string(nonce.substr(2));
  return out;
}

tl::expected<ScramServerFirst, std::string> parse_scram_server_first(std::string_view msg) {
  ScramServerFirst out;
  std::string_view s = msg;
  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
  //                        ["," extensions]
  const std::string_view nonce = next_attr(s);
  if (nonce.substr(0, 2) == "m=") return tl::unexpected(std::string("mandatory extension"));
  if (nonce.substr(0, 2) != "r=" || !valid_nonce(nonce.substr(2)))
    return tl::unexpected(std::string("expected r=nonce"));
  out.nonce = std::string(nonce.substr(2));
  const std::string_view salt = next_attr(s);
  auto decoded = salt.substr(0, 2) == "s=" ? smtp::base64_decode(salt.substr(2)) : std::nullopt;
  if (!decoded || decoded->empty()) return tl::unexpected(std::string("expected s=salt"));
  out.salt = std::move(*decoded);
  const std::string_view count = next_attr(s);
  if (count.substr(0, 2) != "i=" || !parse_count(count.substr(2), out.iterations))
    return tl::unexpected(std::string("expected i=iteration-count"));
  return out;  // extensions are ignored
}

tl::expected<ScramServerFinal, std::string> parse_scram_server_final(std::string_view msg) {
  ScramServerFinal out;
  std::string_view s = msg;
  // server-final-message = (server-error / verifier) ["," extensions]
  const std::string_view first = next_attr(s);
  if (first.substr(0, 2) == "e=") {
    out.error = std::string(first.substr(2));
    if (out.error.empty()) return tl::unexpected(std::string("empty server-error"));
    return out;
  }
  auto verifier = first.substr(0, 2) == "v=" && first.size() > 2
                      ? smtp::base64_decode(first.substr(2))
                      : std::nullopt;
  if (!verifier) return tl::unexpected(std::string("expected v=verifier or e=error"));
  out.verifier = std::move(*verifier);
  return out;
}

std::string encode_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',')
      out += "=2C";
    else if (c == '=')
      out += "=3D";
    else
      out += c;
  }
  return out;
}

}  // namespace taube::sasl
