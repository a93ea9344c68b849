// The in-process runner for tests/dialogs/*.dialog (practice 8; format in tests/dialogs/README.md).
// Each dialog runs against a ServerSession whose recipient lookups are answered by the real
// taube::policy::Directory built from the shared dialog configuration, and whose commits are
// answered "250 2.0.0 Ok: queued as TESTID". The integration runner plays the same files against
// the real binary configured the same way.
//
// Two checks per dialog: (1) interactive: each C: line is fed, each S: line takes the next
// complete reply; (2) pipelined: all client octets fed at once and under every split
// (practice 7) give exactly the replies of the interactive run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "session_driver.hpp"
#include "smtp/server/server_session.hpp"
#include "split_feed.hpp"
#include "policy/directory.hpp"

namespace taube::smtp {
namespace {

using testing::parse_replies;
using testing::ParsedReply;
using testing::Pieces;
using testing::SessionDriver;
using testing::visible;

struct Step {
  enum Kind { Send, Expect } kind;
  std::string text;  // Send: the octets; Expect: the prefix
  int line;
};

struct Dialog {
  std::string name;
  std::string path;
  std::vector<Step> steps;
  std::vector<std::string> errors;  // format errors
};

// "C: text": text + CRLF, or, when text contains the escapes \r or \n, the text with the
// escapes \r \n \t and \\ (backslash) decoded and sent as is.
std::string client_octets(std::string_view text) {
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

Dialog load_dialog(const std::filesystem::path& path) {
  Dialog d;
  d.name = path.stem().string();
  d.path = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.errors.push_back("cannot open " + d.path);
    return d;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("C:") || line.starts_with("S:")) {
      std::string_view text = std::string_view(line).substr(2);
      if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      if (line[0] == 'C') {
        d.steps.push_back({Step::Send, client_octets(text), n});
      } else {
        if (text.empty()) d.errors.push_back("line " + std::to_string(n) + ": empty S: prefix");
        d.steps.push_back({Step::Expect, std::string(text), n});
      }
      continue;
    }
    d.errors.push_back("line " + std::to_string(n) + ": not C:, S:, # or blank: " + line);
  }
  return d;
}

std::vector<std::string> dialog_files() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(TAUBE_DIALOG_DIR, ec))
    if (e.path().extension() == ".dialog") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The configuration every dialog runs with (the integration runner uses the same).
SessionConfig dialog_session_config() {
  SessionConfig cfg;  // defaults: 50 MiB, bare newline reject, VRFY 252, EXPN/ETRN off
  cfg.hostname = "mx.test";
  return cfg;
}

const policy::Directory& dialog_directory() {
  static const policy::Directory dir = [] {
    policy::DirectoryConfig c;
    c.mail_root = "/nonexistent/taube-dialogs";
    c.domains = {"localhost", "example.org"};
    c.users = {{"alice@example.org", ""},
               {"bob@example.org", ""},
               {"user@localhost", ""},
               {"postmaster@example.org", ""}};
    c.aliases = {{"info@example.org", {"alice@example.org", "bob@example.org"}},
                 {"sales@example.org", {"alice@example.org"}}};
    auto d = policy::Directory::create(std::move(c));
    if (!d) throw std::runtime_error("dialog directory: " + d.error());
    return std::move(*d);
  }();
  return dir;
}

RcptVerdict directory_rcpt(const ServerSession&, const RcptRequest& req) {
  const auto r = dialog_directory().resolve(req.mailbox.local_part, req.mailbox.domain);
  std::vector<Destination> dests;
  for (const auto& m : r.maildirs) dests.push_back(testing::mailbox_dest(m));
  switch (r.verdict) {
    case policy::Verdict::Local:
      return {RcptVerdictKind::Accept, dests, {}};
    case policy::Verdict::Forward:
      return {RcptVerdictKind::Forward, dests, r.forward_to};
    case policy::Verdict::UserUnknown:
      return {RcptVerdictKind::UserUnknown, {}, {}};
    case policy::Verdict::RelayDenied:
      return {RcptVerdictKind::RelayDenied, {}, {}};
  }
  return {RcptVerdictKind::TempFail, {}, {}};
}

testing::SessionAnswers dialog_answers() {
  testing::SessionAnswers a;
  a.rcpt = directory_rcpt;
  a.address = [](const ServerSession&, Pending, const AddressRequest&) {
    return AddressVerdict{AddressVerdictKind::CannotVerify, {}};
  };
  return a;
}

std::string reply_text(const ParsedReply& r) {
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

  SessionDriver s(dialog_session_config(), dialog_answers());
  s.start();
  std::string wire, all_client;
  std::vector<ParsedReply> queue;
  std::size_t next = 0;
  auto refill = [&] {
    wire += s.take_output();
    std::string rest;
    for (auto& r : parse_replies(wire, &rest)) queue.push_back(std::move(r));
    wire = rest;
  };
  for (const Step& st : d.steps) {
    if (st.kind == Step::Send) {
      ASSERT_FALSE(s.session().closed())
          << d.path << ":" << st.line << ": sending after the server closed the connection";
      all_client += st.text;
      s.feed(st.text);
      continue;
    }
    refill();
    ASSERT_LT(next, queue.size()) << d.path << ":" << st.line << ": expected a reply starting \""
                                  << st.text << "\", the server sent nothing";
    const ParsedReply& r = queue[next++];
    EXPECT_TRUE(r.last_line().starts_with(st.text))
        << d.path << ":" << st.line << ": expected a reply starting \"" << st.text << "\", got \""
        << reply_text(r) << "\"";
  }
  refill();
  EXPECT_EQ(next, queue.size()) << d.path << ": " << queue.size() - next
                                << " unexpected reply(ies) at the end, the first: \""
                                << (next < queue.size() ? reply_text(queue[next]) : "") << "\"";
  EXPECT_TRUE(wire.empty()) << d.path << ": incomplete reply at the end: " << visible(wire);

  // The same conversation pipelined in one go, and under every split, gives the same replies.
  const std::string interactive = s.all_output();
  const std::string pipelined =
      ::taube::smtp::testing::expect_split_invariant(all_client, [&](const Pieces& pieces) {
        SessionDriver p(dialog_session_config(), dialog_answers());
        p.start();
        p.feed_pieces(pieces);
        return p.all_output();
      });
  EXPECT_EQ(visible(pipelined), visible(interactive)) << d.path << ": pipelined run differs";
}

std::string dialog_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = std::filesystem::path(info.param).stem().string();
  for (char& c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Dialogs, DialogFile, ::testing::ValuesIn(dialog_files()),
                         dialog_test_name);

TEST(Dialogs, DirectoryIsNotEmpty) {
  EXPECT_GE(dialog_files().size(), 15u) << TAUBE_DIALOG_DIR;
}

// The runner's own parsing rules.
TEST(DialogFormat, ClientEscapes) {
  EXPECT_EQ(client_octets("EHLO x"), "EHLO x\r\n");
  EXPECT_EQ(client_octets(""), "\r\n");
  EXPECT_EQ(client_octets("a\\nb"), "a\nb");
  EXPECT_EQ(client_octets("a\\r\\n"), "a\r\n");
  EXPECT_EQ(client_octets("t\\tu\\\\v\\r"), "t\tu\\v\r");
  EXPECT_EQ(client_octets("no \\t escape"), "no \\t escape\r\n");  // \t alone: literal
}

TEST(DialogFormat, ResolverFollowsTheDirectory) {
  auto verdict = [](const char* local, const char* domain) {
    SessionConfig cfg = dialog_session_config();
    ServerSession s(cfg, ClientInfo{});
    return directory_rcpt(s, RcptRequest{Mailbox{local, domain, false}, {}}).kind;
  };
  EXPECT_EQ(verdict("alice", "example.org"), RcptVerdictKind::Accept);
  EXPECT_EQ(verdict("ALICE", "Example.ORG"), RcptVerdictKind::Accept);
  EXPECT_EQ(verdict("info", "example.org"), RcptVerdictKind::Accept);
  EXPECT_EQ(verdict("sales", "example.org"), RcptVerdictKind::Forward);
  EXPECT_EQ(verdict("postmaster", ""), RcptVerdictKind::Accept);
  EXPECT_EQ(verdict("carol", "example.org"), RcptVerdictKind::UserUnknown);
  EXPECT_EQ(verdict("alice", "example.net"), RcptVerdictKind::RelayDenied);
}

}  // namespace
}  // namespace taube::smtp
