// The in-process runner for tests/dialogs/*.dialog (practice 8; the format is in
// tests/dialogs/README.md). Each dialog runs against a ServerSession configured exactly as the
// server would be: its configuration file goes through app::load_config and app::validate, the
// session's decisions are answered by the server's own policy::SessionPolicy, the listener's
// offer by net::channel_policy_for, AUTH by the configured users file. Only the commit is
// simulated ("250 2.0.0 Ok: queued as TESTID"). tests/integration/test_dialogs.py plays the same
// files against the real binary.
//
// Two checks per dialog: (1) interactive: each C:/R: is fed, each S: takes the next complete
// reply; (2) pipelined: the client octets between TLS handshakes fed at once and under every
// split (practice 7) give exactly the replies of the interactive run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "app/config.hpp"
#include "crypto/openssl_sasl.hpp"
#include "net/channel_policy.hpp"
#include "net/tls_context.hpp"
#include "policy/session_policy.hpp"
#include "session_driver.hpp"
#include "split_feed.hpp"
#include "store/user_db.hpp"

namespace taube::app {
namespace {

namespace fs = std::filesystem;
using smtp::testing::ReplySeen;
using smtp::testing::Pieces;
using smtp::testing::SessionDriver;
using smtp::testing::visible;

const fs::path kDialogDir = TAUBE_DIALOG_DIR;

struct Step {
  enum Kind { Send, Expect, Tls, Closed } kind;
  std::string text;  // Send: the octets; Expect: the prefix
  int line;
};

struct Dialog {
  std::string path;
  std::string config = "default";
  std::vector<Step> steps;
  std::vector<std::string> errors;  // format errors
};

// "C: text": text + CRLF, or, when text contains the escapes \r or \n, the text with the
// escapes \r \n \t and \\ decoded and sent as is.
std::string line_octets(std::string_view text) {
  if (text.find("\\r") == std::string_view::npos && text.find("\\n") == std::string_view::npos)
    return std::string(text) + "\r\n";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char e = text[i + 1];
      const char* dec = e == 'r'    ? "\r"
                        : e == 'n'  ? "\n"
                        : e == 't'  ? "\t"
                        : e == '\\' ? "\\"
                                    : nullptr;
      if (dec != nullptr) {
        out += dec;
        ++i;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "R: octets": \r \n \t \\ \xHH always decoded, nothing appended; another escape is an error.
bool raw_octets(std::string_view text, std::string& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 >= text.size()) return false;
    const char e = text[++i];
    if (e == 'r')
      out += '\r';
    else if (e == 'n')
      out += '\n';
    else if (e == 't')
      out += '\t';
    else if (e == '\\')
      out += '\\';
    else if (e == 'x' && i + 2 < text.size() + 0 && hex(text[i + 1]) >= 0 &&
             hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      return false;
    }
  }
  return !out.empty();
}

Dialog load_dialog(const fs::path& path) {
  Dialog d;
  d.path = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.errors.push_back("cannot open " + d.path);
    return d;
  }
  std::string line;
  int n = 0;
  bool closed = false;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(n) + ": ";
    if (closed) {
      d.errors.push_back(where + "nothing but comments may follow @closed");
      continue;
    }
    if (line.starts_with("@config ")) {
      if (!d.steps.empty()) d.errors.push_back(where + "@config must be the first directive");
      d.config = line.substr(8);
      continue;
    }
    if (line == "@tls") {
      if (d.steps.empty() || d.steps.back().kind != Step::Expect)
        d.errors.push_back(where + "@tls must follow the S: that read the 220 to STARTTLS");
      d.steps.push_back({Step::Tls, {}, n});
      continue;
    }
    if (line == "@closed") {
      d.steps.push_back({Step::Closed, {}, n});
      closed = true;
      continue;
    }
    if (line.starts_with("C:") || line.starts_with("S:") || line.starts_with("R:")) {
      std::string_view text = std::string_view(line).substr(2);
      if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      if (line[0] == 'C') {
        d.steps.push_back({Step::Send, line_octets(text), n});
      } else if (line[0] == 'R') {
        std::string raw;
        if (!raw_octets(text, raw)) d.errors.push_back(where + "bad R: octets");
        d.steps.push_back({Step::Send, raw, n});
      } else {
        if (text.empty()) d.errors.push_back(where + "empty S: prefix");
        d.steps.push_back({Step::Expect, std::string(text), n});
      }
      continue;
    }
    d.errors.push_back(where + "not C:, R:, S:, @config, @tls, @closed, # or blank: " + line);
  }
  return d;
}

std::vector<std::string> dialog_files() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kDialogDir, ec))
    if (e.path().extension() == ".dialog") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// A server's configuration as both runners build it: the file with ${DIALOG_CONFIGS} replaced,
// read by the real loader. Built once per config name.
struct ServerSetup {
  Config config;
  std::unique_ptr<policy::Directory> directory;
  std::unique_ptr<policy::RecipientPolicy> recipients;
  std::unique_ptr<policy::SessionPolicy> policy;
  net::Credentials creds;
  smtp::ChannelPolicy channel;
  std::string error;
};

const ServerSetup& setup_for(const std::string& name) {
  static std::map<std::string, std::unique_ptr<ServerSetup>> cache;
  auto& slot = cache[name];
  if (slot) return *slot;
  slot = std::make_unique<ServerSetup>();
  ServerSetup& s = *slot;
  const fs::path file = kDialogDir / "configs" / (name + ".toml");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    s.error = "no configuration " + file.string();
    return s;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  const std::string var = "${DIALOG_CONFIGS}";
  const std::string dir = (kDialogDir / "configs").string();
  for (auto at = text.find(var); at != std::string::npos; at = text.find(var, at))
    text.replace(at, var.size(), dir);
  // ctest runs each test as its own process, in parallel: a file name of this process only.
  const fs::path tmp = fs::temp_directory_path() /
                       ("taube-dialog-" + std::to_string(::getpid()) + "-" + name + ".toml");
  std::ofstream(tmp, std::ios::binary) << text;
  auto cfg = load_config(tmp.string());
  fs::remove(tmp);
  if (!cfg) {
    s.error = cfg.error();
    return s;
  }
  s.config = std::move(*cfg);
  auto d = validate(s.config);
  if (!d) {
    s.error = d.error();
    return s;
  }
  s.directory = std::make_unique<policy::Directory>(std::move(*d));
  s.recipients = std::make_unique<policy::RecipientPolicy>(*s.directory, s.config.server.relay);
  s.policy = std::make_unique<policy::SessionPolicy>(*s.recipients, s.config.server.senders);
  if (s.config.server.tls) {
    auto ctx = net::make_tls_context(*s.config.server.tls);
    if (!ctx) {
      s.error = ctx.error();
      return s;
    }
    s.creds.tls = std::move(*ctx);
  }
  if (!s.config.server.auth.users_file.empty()) {
    auto db = store::UserDb::load(s.config.server.auth.users_file);
    if (!db) {
      s.error = db.error();
      return s;
    }
    s.creds.users = std::make_shared<const store::UserDb>(std::move(*db));
  }
  if (s.config.server.listeners.empty()) {
    s.error = "no listener";
    return s;
  }
  s.channel = net::channel_policy_for(s.config.server.listeners.front(), s.creds);
  // SCRAM as the server does it: the real crypto and a stand-in key.
  static crypto::OpenSslSasl sasl_crypto;
  s.config.server.session.sasl_crypto = &sasl_crypto;
  s.config.server.session.sasl_stand_in_key = std::string(32, 'd');
  return s;
}

// A session of the dialog's server, from a loopback client like the real-server runner's. The
// decisions go to the server's policy; AUTH to its users file; the TLS handshake is simulated.
std::unique_ptr<SessionDriver> make_driver(const ServerSetup& s) {
  const auto client = *inet::IpAddress::parse("127.0.0.1");
  smtp::testing::SessionAnswers a;
  const policy::SessionPolicy* pol = s.policy.get();
  a.decide = [pol, client](smtp::ServerSession& ses) {
    return pol->answer(ses, policy::facts_of(ses, client));
  };
  auto users = s.creds.users;
  a.auth = [users](smtp::ServerSession& ses) {
    // As inbound_auth.cpp: passwords checked against the users file, SCRAM secrets from it,
    // failures answered (without the delay). crypt(3) is slow by design (yescrypt): each
    // password check is computed once, then remembered, so the split runs take microseconds.
    static std::map<std::tuple<const void*, std::string, std::string>, bool> verified;
    const auto& req = ses.auth_request();
    switch (req.need) {
      case smtp::AuthRequest::Need::VerifyPassword: {
        bool ok = false;
        if (users) {
          const auto key =
              std::make_tuple(static_cast<const void*>(users.get()), req.username, req.password);
          auto it = verified.find(key);
          if (it == verified.end())
            it = verified.emplace(key, users->verify(req.username, req.password)).first;
          ok = it->second;
        }
        ses.auth_checked(ok);
        return;
      }
      case smtp::AuthRequest::Need::LookupSecret: {
        const sasl::ScramSecret* secret = users ? users->scram_secret(req.username) : nullptr;
        ses.auth_secret(secret ? std::optional<sasl::ScramSecret>(*secret) : std::nullopt);
        return;
      }
      case smtp::AuthRequest::Need::Failed:
        ses.auth_failed();
        return;
    }
  };
  a.commit = [](const smtp::Envelope&, const std::string&) {
    return smtp::CommitResult{smtp::CommitStatus::Accepted, "TESTID", {}};
  };
  a.tls = [](smtp::ServerSession& ses) {
    ses.tls_started("TLSv1.3 with cipher TLS_AES_256_GCM_SHA384");
  };
  smtp::ClientInfo info;
  info.address = client.to_string();
  return std::make_unique<SessionDriver>(s.config.server.session, a, s.channel, info);
}

std::string reply_text(const ReplySeen& r) {
  std::string s;
  for (const auto& l : r.lines) s += l + "\\r\\n";
  return s;
}

class DialogFile : public ::testing::TestWithParam<std::string> {};

TEST_P(DialogFile, Interactive) {
  const Dialog d = load_dialog(GetParam());
  for (const auto& e : d.errors) ADD_FAILURE() << d.path << ": " << e;
  ASSERT_TRUE(d.errors.empty());
  ASSERT_FALSE(d.steps.empty()) << d.path << ": no steps";
  const ServerSetup& setup = setup_for(d.config);
  ASSERT_TRUE(setup.error.empty()) << d.path << ": config " << d.config << ": " << setup.error;

  auto s = make_driver(setup);
  s->start();
  std::string wire;
  std::vector<ReplySeen> queue;
  std::size_t next = 0;
  // The client's octets, cut where the TLS handshakes are: the pipelined run feeds each
  // segment at once (or split), a handshake between segments.
  std::vector<std::string> segments(1);
  auto refill = [&] {
    wire += s->take_output();
    std::string rest;
    for (auto& r : smtp::testing::parse_replies(wire, &rest)) queue.push_back(std::move(r));
    wire = rest;
  };
  for (const Step& st : d.steps) {
    const std::string at = d.path + ":" + std::to_string(st.line) + ": ";
    switch (st.kind) {
      case Step::Send:
        ASSERT_FALSE(s->session().closed()) << at << "sending after the server closed";
        segments.back() += st.text;
        s->feed(st.text);
        break;
      case Step::Expect: {
        refill();
        ASSERT_LT(next, queue.size())
            << at << "expected a reply starting \"" << st.text << "\", the server sent nothing";
        const ReplySeen& r = queue[next++];
        EXPECT_TRUE(r.last_line().starts_with(st.text))
            << at << "expected a reply starting \"" << st.text << "\", got \"" << reply_text(r)
            << "\"";
        break;
      }
      case Step::Tls:
        // The driver completed the handshake when the session asked for it (StartTls event);
        // the session must be over TLS now, with nothing said after the 220.
        refill();
        EXPECT_TRUE(s->session().client().tls) << at << "no STARTTLS to complete";
        EXPECT_EQ(next, queue.size()) << at << "replies after the 220 to STARTTLS";
        segments.emplace_back();
        break;
      case Step::Closed:
        refill();
        EXPECT_TRUE(s->session().closed()) << at << "the server did not close";
        EXPECT_EQ(next, queue.size()) << at << "replies left unread before the close";
        break;
    }
  }
  refill();
  EXPECT_EQ(next, queue.size()) << d.path << ": " << queue.size() - next
                                << " unexpected reply(ies) at the end, the first: \""
                                << (next < queue.size() ? reply_text(queue[next]) : "") << "\"";
  EXPECT_TRUE(wire.empty()) << d.path << ": incomplete reply at the end: " << visible(wire);

  // The same conversation pipelined, each segment in one go and under every split, gives the
  // same replies.
  const std::string interactive = s->all_output();
  // In a segment that ends with a handshake, what follows the STARTTLS line was sent in plaintext
  // in the same write (an injection attempt): it arrives with the STARTTLS line, never after the
  // handshake, so the splits stop at the end of that line.
  auto tls_tail = [&](std::size_t seg) -> std::size_t {
    if (seg + 1 >= segments.size()) return segments[seg].size();
    std::string upper = segments[seg];
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto at = upper.rfind("STARTTLS\r\n");
    return at == std::string::npos ? segments[seg].size() : at + 10;
  };
  auto run_split = [&](std::size_t seg, const Pieces& pieces) {
    auto p = make_driver(setup);
    p->start();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (i != seg) {
        p->feed(segments[i]);
        continue;
      }
      Pieces glued(pieces);
      const std::string last = std::string(glued.back()) + segments[i].substr(tls_tail(i));
      glued.pop_back();
      p->feed_pieces(glued);
      p->feed(last);
    }
    return p->all_output();
  };
  for (std::size_t seg = 0; seg < segments.size(); ++seg) {
    const std::string head = segments[seg].substr(0, tls_tail(seg));
    const std::string pipelined = smtp::testing::expect_split_invariant(
        head, [&](const Pieces& pieces) { return run_split(seg, pieces); });
    EXPECT_EQ(visible(pipelined), visible(interactive))
        << d.path << ": pipelined run (segment " << seg << ") differs";
  }
}

std::string dialog_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = fs::path(info.param).stem().string();
  for (char& c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Dialogs, DialogFile, ::testing::ValuesIn(dialog_files()),
                         dialog_test_name);

TEST(Dialogs, DirectoryIsNotEmpty) {
  EXPECT_GE(dialog_files().size(), 25u) << kDialogDir;
}

TEST(Dialogs, EveryConfigLoads) {
  std::error_code ec;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(kDialogDir / "configs", ec)) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    const ServerSetup& s = setup_for(e.path().stem().string());
    EXPECT_TRUE(s.error.empty()) << e.path() << ": " << s.error;
  }
  EXPECT_GE(n, 10u);
}

// The runner's own parsing rules (so a broken runner cannot pass dialogs vacuously).
TEST(DialogFormat, Escapes) {
  EXPECT_EQ(line_octets("EHLO x"), "EHLO x\r\n");
  EXPECT_EQ(line_octets(""), "\r\n");
  EXPECT_EQ(line_octets("a\\nb"), "a\nb");
  EXPECT_EQ(line_octets("t\\tu\\\\v\\r"), "t\tu\\v\r");
  EXPECT_EQ(line_octets("no \\t escape"), "no \\t escape\r\n");  // \t alone: literal
  std::string raw;
  EXPECT_TRUE(raw_octets("a\\x00b\\r\\n\\\\", raw));
  EXPECT_EQ(raw, std::string("a\0b\r\n\\", 6));
  raw.clear();
  EXPECT_FALSE(raw_octets("bad \\q escape", raw));
  raw.clear();
  EXPECT_FALSE(raw_octets("\\x4", raw));
  raw.clear();
  EXPECT_FALSE(raw_octets("", raw));
}

TEST(DialogFormat, DirectivesAndErrors) {
  const fs::path tmp =
      fs::temp_directory_path() / ("taube-dialog-format-" + std::to_string(::getpid()) + ".dialog");
  std::ofstream(tmp, std::ios::binary) << "# why\n@config small\nS: 220\nC: STARTTLS\nS: 220\n"
                                          "@tls\nR: x\\r\\n\nS: 250\n@closed\n# fine\n";
  Dialog d = load_dialog(tmp);
  EXPECT_TRUE(d.errors.empty()) << (d.errors.empty() ? "" : d.errors.front());
  EXPECT_EQ(d.config, "small");
  ASSERT_EQ(d.steps.size(), 7u);
  EXPECT_EQ(d.steps[3].kind, Step::Tls);
  EXPECT_EQ(d.steps[4].text, "x\r\n");
  EXPECT_EQ(d.steps[6].kind, Step::Closed);
  std::ofstream(tmp, std::ios::binary) << "S: 220\n@config late\n@tls\n@closed\nC: more\nX: ?\n";
  d = load_dialog(tmp);
  fs::remove(tmp);
  // @config not first; @tls not after an S:? (it is: fine); after @closed; unknown line.
  EXPECT_EQ(d.errors.size(), 3u);
}

}  // namespace
}  // namespace taube::app
