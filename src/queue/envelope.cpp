#include "queue/envelope.hpp"

#include <charconv>
#include <optional>

namespace taube::queue {

namespace {

constexpr std::string_view kMagic = "taube-envelope 1";
// Version 2 is version 1 plus the "hold" record; written only for an item on hold, so that
// everything else stays readable by a Taube that knows version 1 only.
constexpr std::string_view kMagic2 = "taube-envelope 2";

struct StateName {
  RecipientState state;
  std::string_view name;
};
constexpr StateName kStates[] = {
    {RecipientState::Pending, "pending"},
    {RecipientState::Deferred, "deferred"},
    {RecipientState::DelayNotified, "delay-notified"},
    {RecipientState::Delivered, "delivered"},
    {RecipientState::Failed, "failed"},
};

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    const auto sp = line.find(' ');
    out.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return out;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

void put_mailbox(std::string& out, const smtp::Mailbox& m) {
  // The local part and the domain separately: no quoting rules to get wrong on the way back.
  out += smtp::encode_xtext(m.local_part);
  out += ' ';
  out += smtp::encode_xtext(m.domain);
  if (m.domain_is_literal) out += " literal";
}

std::optional<smtp::Mailbox> get_mailbox(std::string_view local, std::string_view domain,
                                         bool literal) {
  auto l = smtp::decode_xtext(local);
  auto d = smtp::decode_xtext(domain);
  if (!l || !d) return std::nullopt;
  return smtp::Mailbox{std::move(*l), std::move(*d), literal};
}

}  // namespace

const char* to_string(RecipientState s) {
  for (const auto& e : kStates)
    if (e.state == s) return e.name.data();
  return "?";
}

bool operator==(const QueueEnvelope& a, const QueueEnvelope& b) {
  const auto& p = a.params;
  const auto& q = b.params;
  return a.id == b.id && a.arrival == b.arrival && a.sender.null == b.sender.null &&
         a.sender.mailbox == b.sender.mailbox && p.size == q.size && p.body == q.body &&
         p.smtputf8 == q.smtputf8 && p.ret == q.ret && p.envid == q.envid &&
         a.auth_user == b.auth_user && a.client_address == b.client_address &&
         a.client_helo == b.client_helo && a.held == b.held && a.recipients == b.recipients;
}

std::string encode_envelope(const QueueEnvelope& env) {
  std::string out;
  out.reserve(256 + env.recipients.size() * 96);
  out += env.held != 0 ? kMagic2 : kMagic;
  out += "\nid " + smtp::encode_xtext(env.id);
  out += "\narrival " + std::to_string(env.arrival);
  out += "\nfrom ";
  if (env.sender.null) {
    out += "<>";
  } else {
    put_mailbox(out, env.sender.mailbox);
  }
  out += "\nparam";
  if (env.params.size) out += " size=" + std::to_string(*env.params.size);
  out += env.params.body == smtp::BodyType::EightBitMime ? " body=8bitmime" : " body=7bit";
  out += env.params.smtputf8 ? " smtputf8=1" : " smtputf8=0";
  if (env.params.ret) out += *env.params.ret == smtp::DsnRet::Full ? " ret=full" : " ret=hdrs";
  if (env.params.envid) out += " envid=" + smtp::encode_xtext(*env.params.envid);
  if (!env.auth_user.empty()) out += "\nauth " + smtp::encode_xtext(env.auth_user);
  if (!env.client_address.empty() || !env.client_helo.empty())
    out += "\nclient " + smtp::encode_xtext(env.client_address) + " " +
           smtp::encode_xtext(env.client_helo);
  if (env.held != 0) out += "\nhold " + std::to_string(env.held);
  for (const auto& r : env.recipients) {
    out += "\nrcpt ";
    put_mailbox(out, r.mailbox);
    if (r.params.notify != 0) out += " notify=" + std::to_string(r.params.notify);
    if (r.params.orcpt_type)
      out += " orcpt=" + smtp::encode_xtext(*r.params.orcpt_type) + ";" +
             smtp::encode_xtext(r.params.orcpt_address.value_or(""));
    if (!r.original.empty()) out += " original=" + smtp::encode_xtext(r.original);
    out += std::string(" state=") + to_string(r.state);
    if (r.attempts != 0) out += " attempts=" + std::to_string(r.attempts);
    if (r.next_attempt != 0) out += " next=" + std::to_string(r.next_attempt);
    if (!r.route.empty()) out += " route=" + smtp::encode_xtext(r.route);
    if (!r.last_reply.empty()) out += " reply=" + smtp::encode_xtext(r.last_reply);
  }
  out += "\nend\n";
  return out;
}

namespace {

class Decoder {
 public:
  explicit Decoder(std::string_view text) : text_(text) {}

  tl::expected<QueueEnvelope, std::string> run() {
    QueueEnvelope env;
    std::string_view line;
    if (!next(line) || (line != kMagic && line != kMagic2))
      return fail("not a taube-envelope 1 or 2 file");
    const bool v2 = line == kMagic2;
    bool have_id = false, have_from = false, have_arrival = false, ended = false;
    while (next(line)) {
      if (ended) return fail("data after end");
      const auto f = split_fields(line);
      const std::string_view key = f[0];
      if (key == "end" && f.size() == 1) {
        ended = true;
      } else if (key == "id" && f.size() == 2 && !have_id) {
        auto v = smtp::decode_xtext(f[1]);
        if (!v || v->empty()) return fail("bad id");
        env.id = std::move(*v);
        have_id = true;
      } else if (key == "arrival" && f.size() == 2 && !have_arrival) {
        if (!parse_number(f[1], env.arrival)) return fail("bad arrival time");
        have_arrival = true;
      } else if (key == "from" && !have_from) {
        if (f.size() == 2 && f[1] == "<>") {
          env.sender.null = true;
        } else if (f.size() == 3 || (f.size() == 4 && f[3] == "literal")) {
          auto m = get_mailbox(f[1], f[2], f.size() == 4);
          if (!m) return fail("bad sender");
          env.sender.mailbox = std::move(*m);
        } else {
          return fail("bad sender");
        }
        have_from = true;
      } else if (key == "param") {
        if (auto r = params(f, env.params); !r) return fail(r.error());
      } else if (key == "auth" && f.size() == 2) {
        auto v = smtp::decode_xtext(f[1]);
        if (!v) return fail("bad auth user");
        env.auth_user = std::move(*v);
      } else if (key == "client" && f.size() == 3) {
        auto a = smtp::decode_xtext(f[1]);
        auto h = smtp::decode_xtext(f[2]);
        if (!a || !h) return fail("bad client");
        env.client_address = std::move(*a);
        env.client_helo = std::move(*h);
      } else if (key == "hold" && f.size() == 2 && v2 && env.held == 0) {
        if (!parse_number(f[1], env.held) || env.held <= 0) return fail("bad hold time");
      } else if (key == "rcpt") {
        auto r = recipient(f);
        if (!r) return fail(r.error());
        env.recipients.push_back(std::move(*r));
      } else {
        return fail("unknown or repeated record \"" + std::string(key) + "\"");
      }
    }
    if (!ended) return fail("truncated (no end line)");
    if (!have_id || !have_from || !have_arrival) return fail("id, arrival or from missing");
    if (env.recipients.empty()) return fail("no recipients");
    return env;
  }

 private:
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const auto nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) {
      // The last line must end in a newline, too: a torn final write is not a record.
      pos_ = text_.size();
      line = {};
      ++lineno_;
      torn_ = true;
      return true;
    }
    line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    ++lineno_;
    return true;
  }

  tl::unexpected<std::string> fail(const std::string& why) const {
    return tl::unexpected("line " + std::to_string(lineno_) + ": " + (torn_ ? "truncated" : why));
  }

  static tl::expected<void, std::string> params(const std::vector<std::string_view>& f,
                                                smtp::MailParams& p) {
    for (std::size_t i = 1; i < f.size(); ++i) {
      const auto eq = f[i].find('=');
      if (eq == std::string_view::npos) return tl::unexpected(std::string("bad parameter"));
      const std::string_view k = f[i].substr(0, eq), v = f[i].substr(eq + 1);
      if (k == "size") {
        std::uint64_t n = 0;
        if (!parse_number(v, n)) return tl::unexpected(std::string("bad size"));
        p.size = n;
      } else if (k == "body" && (v == "7bit" || v == "8bitmime")) {
        p.body = v == "7bit" ? smtp::BodyType::SevenBit : smtp::BodyType::EightBitMime;
      } else if (k == "smtputf8" && (v == "0" || v == "1")) {
        p.smtputf8 = v == "1";
      } else if (k == "ret" && (v == "full" || v == "hdrs")) {
        p.ret = v == "full" ? smtp::DsnRet::Full : smtp::DsnRet::Headers;
      } else if (k == "envid") {
        auto e = smtp::decode_xtext(v);
        if (!e) return tl::unexpected(std::string("bad envid"));
        p.envid = std::move(*e);
      } else {
        return tl::unexpected("unknown parameter \"" + std::string(k) + "\"");
      }
    }
    return {};
  }

  static tl::expected<QueuedRecipient, std::string> recipient(
      const std::vector<std::string_view>& f) {
    if (f.size() < 3) return tl::unexpected(std::string("bad recipient"));
    QueuedRecipient r;
    std::size_t i = 3;
    const bool literal = f.size() > 3 && f[3] == "literal";
    if (literal) ++i;
    auto m = get_mailbox(f[1], f[2], literal);
    if (!m) return tl::unexpected(std::string("bad recipient address"));
    r.mailbox = std::move(*m);
    bool have_state = false;
    for (; i < f.size(); ++i) {
      const auto eq = f[i].find('=');
      if (eq == std::string_view::npos) return tl::unexpected(std::string("bad recipient field"));
      const std::string_view k = f[i].substr(0, eq), v = f[i].substr(eq + 1);
      if (k == "notify") {
        if (!parse_number(v, r.params.notify) || r.params.notify > 15)
          return tl::unexpected(std::string("bad notify"));
      } else if (k == "orcpt") {
        const auto semi = v.find(';');
        if (semi == std::string_view::npos) return tl::unexpected(std::string("bad orcpt"));
        auto t = smtp::decode_xtext(v.substr(0, semi));
        auto a = smtp::decode_xtext(v.substr(semi + 1));
        if (!t || !a || t->empty()) return tl::unexpected(std::string("bad orcpt"));
        r.params.orcpt_type = std::move(*t);
        r.params.orcpt_address = std::move(*a);
      } else if (k == "original") {
        auto o = smtp::decode_xtext(v);
        if (!o) return tl::unexpected(std::string("bad original address"));
        r.original = std::move(*o);
      } else if (k == "state") {
        bool known = false;
        for (const auto& s : kStates)
          if (s.name == v) r.state = s.state, known = true;
        if (!known) return tl::unexpected(std::string("bad state"));
        have_state = true;
      } else if (k == "attempts") {
        if (!parse_number(v, r.attempts)) return tl::unexpected(std::string("bad attempts"));
      } else if (k == "next") {
        if (!parse_number(v, r.next_attempt))
          return tl::unexpected(std::string("bad next attempt"));
      } else if (k == "route" || k == "reply") {
        auto t = smtp::decode_xtext(v);
        if (!t) return tl::unexpected("bad " + std::string(k));
        (k == "route" ? r.route : r.last_reply) = std::move(*t);
      } else {
        return tl::unexpected("unknown recipient field \"" + std::string(k) + "\"");
      }
    }
    if (!have_state) return tl::unexpected(std::string("recipient without state"));
    return r;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t lineno_ = 0;
  bool torn_ = false;
};

}  // namespace

tl::expected<QueueEnvelope, std::string> decode_envelope(std::string_view text) {
  return Decoder(text).run();
}

}  // namespace taube::queue
