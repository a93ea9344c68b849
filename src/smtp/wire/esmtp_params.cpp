#include "smtp/wire/esmtp_params.hpp"

#include <charconv>

#include "smtp/wire/address.hpp"
#include "smtp/wire/ascii.hpp"

namespace taube::smtp {

namespace {

struct Param {
  std::string keyword;  // uppercased
  std::string_view value;
  bool has_value = false;
};

// esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2):
// keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"); value = 1*(%d33-60 / %d62-126) (plus UTF-8
// with SMTPUTF8, RFC 6531 §3.3).
tl::expected<std::vector<Param>, Reply> split_params(std::string_view s) {
  std::vector<Param> out;
  while (true) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (s.empty()) break;
    const auto sp = s.find(' ');
    const std::string_view item = s.substr(0, sp);
    s.remove_prefix(sp == std::string_view::npos ? s.size() : sp);
    Param p;
    const auto eq = item.find('=');
    const std::string_view kw = item.substr(0, eq);
    if (kw.empty()) return tl::unexpected(make_reply(ReplyId::SyntaxParam, item));
    for (char c : kw) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      (c == '-' && !p.keyword.empty());
      if (!ok) return tl::unexpected(make_reply(ReplyId::SyntaxParam, item));
      p.keyword.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    }
    if (eq != std::string_view::npos) {
      p.has_value = true;
      p.value = item.substr(eq + 1);
      if (p.value.empty()) return tl::unexpected(make_reply(ReplyId::SyntaxParam, item));
      for (unsigned char c : p.value)
        if (c < 33 || c == '=' || c == 127)
          return tl::unexpected(make_reply(ReplyId::SyntaxParam, item));
    }
    for (const auto& q : out)
      if (q.keyword == p.keyword) return tl::unexpected(make_reply(ReplyId::SyntaxParam, item));
    out.push_back(std::move(p));
  }
  return out;
}

Reply bad(const Param& p) {
  std::string s = p.keyword;
  if (p.has_value) s.append("=").append(p.value);
  return make_reply(ReplyId::SyntaxParam, s);
}

Reply unknown(const Param& p) {
  return make_reply(ReplyId::UnknownParam, p.keyword);
}

}  // namespace

std::optional<std::string> decode_xtext(std::string_view in) {
  // xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "="; hexchar = "+" 2HEXDIG
  // (uppercase hex per RFC 3461 §4, lowercase tolerated).
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = in[i];
    if (c == '+') {
      if (i + 2 >= in.size()) return std::nullopt;
      unsigned v = 0;
      auto res = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
      if (res.ec != std::errc{} || res.ptr != in.data() + i + 3) return std::nullopt;
      out.push_back(static_cast<char>(v));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::optional<std::string> decode_utf8_addr_xtext(std::string_view in) {
  // RFC 6533 §3: QCHAR (printable ASCII but '+', '=', '\\', or UTF-8) / "\\x{" HEXPOINT "}".
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = in[i];
    if (c == '\\') {
      if (in.substr(i, 3) != "\\x{") return std::nullopt;
      const auto close = in.find('}', i + 3);
      if (close == std::string_view::npos || close == i + 3 || close - (i + 3) > 6)
        return std::nullopt;
      std::uint32_t cp = 0;
      auto r = std::from_chars(in.data() + i + 3, in.data() + close, cp, 16);
      if (r.ec != std::errc{} || r.ptr != in.data() + close) return std::nullopt;
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) return std::nullopt;
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      i = close;
    } else if (c >= 0x80 || (c >= 0x21 && c <= 0x7e && c != '+' && c != '=')) {
      out.push_back(static_cast<char>(c));
    } else {
      return std::nullopt;
    }
  }
  if (!is_valid_utf8(out)) return std::nullopt;
  return out;
}

std::string encode_xtext(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

tl::expected<MailParams, Reply> parse_mail_params(std::string_view params,
                                                  const ParamPolicy& policy) {
  auto split = split_params(params);
  if (!split) return tl::unexpected(split.error());
  MailParams mp;
  for (const Param& p : *split) {
    if (!policy.esmtp) return tl::unexpected(unknown(p));  // HELO: no service extensions
    if (p.keyword == "SIZE") {
      // RFC 1870 §6: size-value = 1*20DIGIT
      if (!p.has_value || p.value.size() > 20) return tl::unexpected(bad(p));
      std::uint64_t v = 0;
      auto res = std::from_chars(p.value.data(), p.value.data() + p.value.size(), v);
      if (res.ptr != p.value.data() + p.value.size()) return tl::unexpected(bad(p));
      if (res.ec == std::errc::result_out_of_range) {
        v = UINT64_MAX;  // 20 digits may exceed 64 bits: simply "too big" (552 at MAIL)
      } else if (res.ec != std::errc{}) {
        return tl::unexpected(bad(p));
      }
      mp.size = v;
    } else if (p.keyword == "BODY" && policy.eight_bit_mime) {
      // RFC 6152 §2: BODY=7BIT / BODY=8BITMIME (BINARYMIME is not advertised).
      const std::string v = ascii_upper(p.value);
      if (v == "7BIT") {
        mp.body = BodyType::SevenBit;
      } else if (v == "8BITMIME") {
        mp.body = BodyType::EightBitMime;
      } else if (v == "BINARYMIME") {
        return tl::unexpected(make_reply(ReplyId::UnknownParam, "BODY=BINARYMIME"));
      } else {
        return tl::unexpected(bad(p));
      }
    } else if (p.keyword == "SMTPUTF8" && policy.smtputf8) {
      if (p.has_value) return tl::unexpected(bad(p));  // RFC 6531 §3.4: no value
      mp.smtputf8 = true;
    } else if (p.keyword == "RET" && policy.dsn) {
      const std::string v = ascii_upper(p.value);  // RFC 3461 §4.3
      if (v == "FULL") {
        mp.ret = DsnRet::Full;
      } else if (v == "HDRS") {
        mp.ret = DsnRet::Headers;
      } else {
        return tl::unexpected(bad(p));
      }
    } else if (p.keyword == "ENVID" && policy.dsn) {
      // RFC 3461 §4.4: xtext, at most 100 characters.
      if (!p.has_value || p.value.size() > kMaxEnvidLength) return tl::unexpected(bad(p));
      auto v = decode_xtext(p.value);
      if (!v) return tl::unexpected(bad(p));
      mp.envid = std::move(*v);
    } else if (p.keyword == "AUTH" && policy.auth) {
      if (!p.has_value) return tl::unexpected(bad(p));  // RFC 4954 §5
      mp.auth = std::string(p.value);
    } else {
      return tl::unexpected(unknown(p));
    }
  }
  return mp;
}

tl::expected<RcptParams, Reply> parse_rcpt_params(std::string_view params,
                                                  const ParamPolicy& policy) {
  auto split = split_params(params);
  if (!split) return tl::unexpected(split.error());
  RcptParams rp;
  for (const Param& p : *split) {
    if (!policy.esmtp) return tl::unexpected(unknown(p));
    if (p.keyword == "NOTIFY" && policy.dsn) {
      // RFC 3461 §4.1: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY.
      if (!p.has_value) return tl::unexpected(bad(p));
      std::string_view v = p.value;
      unsigned flags = 0;
      while (true) {
        const auto comma = v.find(',');
        const std::string item = ascii_upper(v.substr(0, comma));
        unsigned f = 0;
        if (item == "NEVER")
          f = NotifyNever;
        else if (item == "SUCCESS")
          f = NotifySuccess;
        else if (item == "FAILURE")
          f = NotifyFailure;
        else if (item == "DELAY")
          f = NotifyDelay;
        if (f == 0 || (flags & f)) return tl::unexpected(bad(p));
        flags |= f;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
      if ((flags & NotifyNever) && flags != NotifyNever) return tl::unexpected(bad(p));
      rp.notify = flags;
    } else if (p.keyword == "ORCPT" && policy.dsn) {
      // RFC 3461 §4.2: addr-type ";" xtext; RFC 6533 §3 adds utf-8-addr-xtext for "utf-8".
      if (!p.has_value) return tl::unexpected(bad(p));
      const auto semi = p.value.find(';');
      if (semi == std::string_view::npos || semi == 0 || semi + 1 == p.value.size())
        return tl::unexpected(bad(p));
      std::string type = ascii_lower(p.value.substr(0, semi));
      for (char c : type)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
          return tl::unexpected(bad(p));
      auto addr = type == "utf-8" ? decode_utf8_addr_xtext(p.value.substr(semi + 1))
                                  : decode_xtext(p.value.substr(semi + 1));
      if (!addr || addr->size() > kMaxOrcptLength) return tl::unexpected(bad(p));
      rp.orcpt_type = std::move(type);
      rp.orcpt_address = std::move(*addr);
    } else {
      return tl::unexpected(unknown(p));
    }
  }
  return rp;
}

}  // namespace taube::smtp
