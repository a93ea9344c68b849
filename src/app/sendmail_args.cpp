#include "app/sendmail_args.hpp"

#include <string_view>

#include "smtp/wire/ascii.hpp"

namespace taube::app {

namespace {

// Postfix's sendmail: "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx". q's argument is
// optional here (-q alone flushes, as everyone types it), so it is handled apart.
constexpr std::string_view kWithArgument = "ABCFLNORVXbefhopr";
constexpr std::string_view kFlags = "GIUcimntvx";

std::string lower(std::string_view s) {
  return smtp::ascii_lower(s);
}

tl::expected<void, std::string> apply(SendmailArgs& a, char opt, const std::string& value) {
  using tl::unexpected;
  switch (opt) {
    case 'b':
      if (value == "m") {
        a.mode = SendmailMode::Deliver;
      } else if (value == "s") {
        a.mode = SendmailMode::Smtp;
      } else if (value == "p") {
        a.mode = SendmailMode::ListQueue;
      } else if (value == "i") {
        a.mode = SendmailMode::Newaliases;
      } else if (value == "d" || value == "D") {
        return unexpected(std::string("-b") + value + ": the server is `taube serve`");
      } else {
        return unexpected("-b" + value + ": unsupported mode (-bm, -bs, -bp and -bi are)");
      }
      return {};
    case 'f':
    case 'r': {
      std::string s = value;
      if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
      a.sender = s;
      return {};
    }
    case 'F':
      a.full_name = value;
      return {};
    case 'C':
      a.config = value;
      return {};
    case 'N': {
      auto n = parse_notify(value);
      if (!n) return unexpected("-N " + value + ": expected never, or success,failure,delay");
      a.notify = *n;
      return {};
    }
    case 'B': {
      const std::string b = lower(value);
      if (b == "7bit") {
        a.body = smtp::BodyType::SevenBit;
      } else if (b == "8bitmime") {
        a.body = smtp::BodyType::EightBitMime;
      } else {
        return unexpected("-B " + value + ": expected 7BIT or 8BITMIME");
      }
      return {};
    }
    case 'V':
      // RFC 3461 §4.4: printable ASCII, at most 100 characters (as xtext, checked again when
      // encoded).
      if (value.empty() || value.size() > smtp::kMaxEnvidLength) {
        return unexpected(std::string("-V: an envelope id of 1 to 100 characters"));
      }
      for (const char c : value)
        if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
          return unexpected(
              std::string("-V: the envelope id must be printable ASCII without spaces"));
      a.envid = value;
      return {};
    case 'R': {
      const std::string r = lower(value);
      if (r == "full") {
        a.ret = smtp::DsnRet::Full;
      } else if (r == "hdrs") {
        a.ret = smtp::DsnRet::Headers;
      } else {
        return unexpected("-R " + value + ": expected full or hdrs");
      }
      return {};
    }
    case 'o':
      // Sendmail's -oX options: only -oi means something to a submission; the others
      // (-oem, -odb, -oQ..., -om ...) are ignored silently, as Postfix does.
      if (value == "i") {
        a.ignore_dots = true;
      } else {
        a.ignored.push_back("-o" + value);
      }
      return {};
    case 'X':
      // Sendmail's traffic log (-X FILE); Postfix's -XV (VERP). Neither applies.
    case 'A':
    case 'L':
    case 'O':
    case 'e':
    case 'h':
    case 'p':
      a.ignored.push_back(std::string("-") + opt + value);
      return {};
    default:
      return unexpected(std::string("invalid option -- '") + opt + "'");
  }
}

}  // namespace

std::optional<unsigned> parse_notify(std::string_view value) {
  const std::string v = lower(value);
  if (v == "never") return smtp::NotifyNever;
  unsigned n = 0;
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t comma = v.find(',', start);
    const std::string word =
        v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (word == "success") {
      n |= smtp::NotifySuccess;
    } else if (word == "failure") {
      n |= smtp::NotifyFailure;
    } else if (word == "delay") {
      n |= smtp::NotifyDelay;
    } else {
      return std::nullopt;  // also "never" in a list (RFC 3461 §4.1)
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return n;
}

tl::expected<SendmailArgs, std::string> parse_sendmail_args(const std::vector<std::string>& args) {
  SendmailArgs a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) a.recipients.push_back(args[i]);
      break;
    }
    // getopt permutes on Linux: an operand does not end the options ("sendmail bob -f alice").
    if (arg.size() < 2 || arg[0] != '-') {
      a.recipients.push_back(arg);
      continue;
    }
    for (std::size_t k = 1; k < arg.size(); ++k) {
      const char opt = arg[k];
      if (opt == 'q') {
        // -q: flush; -qRdomain / -qR domain: that domain; -q30m (sendmail's interval): one
        // flush now (Taube's queue runs by itself).
        std::string rest = arg.substr(k + 1);
        if (rest == "R" && i + 1 < args.size()) rest += args[++i];
        if (rest.size() > 1 && (rest[0] == 'R' || rest[0] == 'S')) {
          if (rest[0] == 'S')
            return tl::unexpected(std::string("-qS: sender queue runs are not supported"));
          a.flush_domain = rest.substr(1);
        } else if (!rest.empty()) {
          a.ignored.push_back("-q" + rest);
        }
        a.mode = SendmailMode::Flush;
        break;
      }
      if (kWithArgument.find(opt) != std::string_view::npos) {
        std::string value;
        if (k + 1 < arg.size()) {
          value = arg.substr(k + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return tl::unexpected(std::string("option requires an argument -- '") + opt + "'");
        }
        if (auto r = apply(a, opt, value); !r) return tl::unexpected(r.error());
        break;
      }
      if (kFlags.find(opt) == std::string_view::npos)
        return tl::unexpected(std::string("invalid option -- '") + opt + "'");
      switch (opt) {
        case 't':
          a.extract_recipients = true;
          break;
        case 'i':
          a.ignore_dots = true;
          break;
        case 'v':
          a.verbose = true;
          break;
        case 'I':
          a.mode = SendmailMode::Newaliases;
          break;
        default:
          // -G (gateway), -U (initial submission), -c, -m (me too), -n (no aliasing), -x.
          a.ignored.push_back(std::string("-") + opt);
          break;
      }
    }
  }
  return a;
}

}  // namespace taube::app
