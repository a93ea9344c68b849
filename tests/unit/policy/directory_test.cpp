#include "policy/directory.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace taube::policy {
namespace {

using Strings = std::vector<std::string>;

DirectoryConfig base() {
  DirectoryConfig c;
  c.mail_root = "/var/mail/";
  c.domains = {"Example.ORG", "example.net"};
  return c;
}

Directory make(DirectoryConfig c) {
  auto d = Directory::create(std::move(c));
  EXPECT_TRUE(d) << d.error();
  return std::move(*d);
}

std::string create_error(DirectoryConfig c) {
  auto d = Directory::create(std::move(c));
  EXPECT_FALSE(d);
  return d ? std::string() : d.error();
}

TEST(Directory, DefaultConfigAcceptsEveryLocalPartOfLocalhost) {
  auto d = make(DirectoryConfig{});
  auto r = d.resolve("Anybody", "LOCALHOST");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.maildirs, Strings{"./var/mail/localhost/anybody"});
  EXPECT_EQ(r.expansion, Strings{"anybody@localhost"});
  EXPECT_EQ(d.resolve("x", "example.org").verdict, Verdict::RelayDenied);
}

TEST(Directory, NormalisesDomainsAndKeys) {
  auto c = base();
  c.users = {{"Alice@EXAMPLE.org", ""}, {"bob@example.net", "/srv/bob/"}};
  c.aliases = {{"Info@Example.Org", {"ALICE@example.org"}}};
  auto d = make(c);
  EXPECT_EQ(d.config().domains, (Strings{"example.org", "example.net"}));
  EXPECT_TRUE(d.config().users.contains("alice@example.org"));
  EXPECT_EQ(d.config().users.at("alice@example.org"), "");  // "" stays "" (default maildir)
  EXPECT_EQ(d.config().users.at("bob@example.net"), "/srv/bob");
  EXPECT_EQ(d.config().aliases.at("info@example.org"), Strings{"alice@example.org"});
  EXPECT_EQ(d.config().mail_root, "/var/mail");
  EXPECT_TRUE(d.is_local_domain("EXAMPLE.ORG"));
  EXPECT_FALSE(d.is_local_domain("example.com"));
}

TEST(Directory, UserVerdicts) {
  auto c = base();
  c.users = {{"alice@example.org", ""}, {"bob@example.net", "/srv/bob/"}};
  auto d = make(c);

  auto alice = d.resolve("ALICE", "Example.Org");
  EXPECT_EQ(alice.verdict, Verdict::Local);
  EXPECT_EQ(alice.maildirs, Strings{"/var/mail/example.org/alice"});
  EXPECT_EQ(alice.expansion, Strings{"alice@example.org"});
  EXPECT_TRUE(alice.forward_to.empty());

  auto bob = d.resolve("bob", "example.net");
  EXPECT_EQ(bob.verdict, Verdict::Local);
  EXPECT_EQ(bob.maildirs, Strings{"/srv/bob"});

  auto unknown = d.resolve("carol", "example.org");
  EXPECT_EQ(unknown.verdict, Verdict::UserUnknown);
  EXPECT_TRUE(unknown.maildirs.empty());
  EXPECT_EQ(d.resolve("bob", "example.org").verdict, Verdict::UserUnknown);  // other domain

  EXPECT_EQ(d.resolve("alice", "example.com").verdict, Verdict::RelayDenied);
  EXPECT_EQ(d.resolve("alice", "[127.0.0.1]").verdict, Verdict::RelayDenied);
  EXPECT_EQ(d.resolve("alice", "[IPv6:::1]").verdict, Verdict::RelayDenied);
  EXPECT_EQ(d.resolve("alice", "sub.example.org").verdict, Verdict::RelayDenied);
}

TEST(Directory, UnicodeIsNotCaseFolded) {
  auto c = base();
  c.domains = {"bücher.example"};
  auto d = make(c);
  EXPECT_EQ(d.resolve("x", "BÜCHER.example").verdict, Verdict::RelayDenied);  // Ü is not folded
  auto r = d.resolve("JÖRG", "Bücher.EXAMPLE");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.expansion, Strings{"jÖrg@bücher.example"});
}

TEST(Directory, PostmasterRules) {
  auto c = base();
  c.users = {{"alice@example.org", ""}};
  auto d = make(c);
  // postmaster@<local domain> is always accepted (RFC 5321 §4.5.1), any case.
  auto pm = d.resolve("PostMaster", "example.net");
  EXPECT_EQ(pm.verdict, Verdict::Local);
  EXPECT_EQ(pm.maildirs, Strings{"/var/mail/example.net/postmaster"});
  // Without a domain: postmaster of the first local domain (RFC 5321 §4.1.1.3).
  auto bare = d.resolve("POSTMASTER", "");
  EXPECT_EQ(bare.verdict, Verdict::Local);
  EXPECT_EQ(bare.expansion, Strings{"postmaster@example.org"});
  EXPECT_EQ(bare.maildirs, Strings{"/var/mail/example.org/postmaster"});
  // Nothing else is accepted without a domain; postmaster of a foreign domain is relaying.
  EXPECT_EQ(d.resolve("alice", "").verdict, Verdict::UserUnknown);
  EXPECT_EQ(d.resolve("postmaster", "example.com").verdict, Verdict::RelayDenied);
}

TEST(Directory, PostmasterAliasIsUsed) {
  auto c = base();
  c.users = {{"alice@example.org", ""}, {"bob@example.org", ""}};
  c.aliases = {{"postmaster@example.org", {"alice@example.org", "bob@example.org"}}};
  auto d = make(c);
  auto r = d.resolve("postmaster", "");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.expansion, (Strings{"alice@example.org", "bob@example.org"}));
}

TEST(Directory, PostmasterUserWithOwnMaildir) {
  auto c = base();
  c.users = {{"postmaster@example.org", "/srv/pm"}};
  auto d = make(c);
  EXPECT_EQ(d.resolve("postmaster", "example.org").maildirs, Strings{"/srv/pm"});
}

TEST(Directory, AliasToOneOtherAddressIsForward) {
  auto c = base();
  c.users = {{"alice@example.org", "/srv/alice"}};
  c.aliases = {{"info@example.org", {"Alice@Example.org"}}};
  auto d = make(c);
  auto r = d.resolve("INFO", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Forward);  // 251
  EXPECT_EQ(r.forward_to, "alice@example.org");
  EXPECT_EQ(r.maildirs, Strings{"/srv/alice"});
  EXPECT_EQ(r.expansion, Strings{"alice@example.org"});
}

TEST(Directory, AliasFanOut) {
  auto c = base();
  c.users = {{"alice@example.org", ""}, {"bob@example.net", ""}, {"carol@example.org", "/srv/c"}};
  c.aliases = {{"team@example.org", {"alice@example.org", "staff@example.org"}},
               {"staff@example.org", {"bob@example.net", "carol@example.org", "alice@example.org"}},
               {"all@example.net", {"team@example.org", "team@example.org"}}};
  auto d = make(c);
  auto r = d.resolve("team", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.expansion, (Strings{"alice@example.org", "bob@example.net", "carol@example.org"}));
  EXPECT_EQ(r.maildirs,
            (Strings{"/var/mail/example.org/alice", "/var/mail/example.net/bob", "/srv/c"}));
  EXPECT_TRUE(r.forward_to.empty());
  EXPECT_EQ(d.resolve("all", "example.net").expansion.size(), 3u);
}

TEST(Directory, AliasesShareAMaildir) {
  auto c = base();
  c.users = {{"a@example.org", "/srv/shared"}, {"b@example.org", "/srv/shared/"}};
  c.aliases = {{"both@example.org", {"a@example.org", "b@example.org"}}};
  auto d = make(c);
  auto r = d.resolve("both", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.maildirs, Strings{"/srv/shared"});  // deduplicated
  EXPECT_EQ(r.expansion.size(), 2u);
}

TEST(Directory, AliasIncludingItselfDeliversToTheUser) {
  auto c = base();
  c.users = {{"bob@example.org", ""}, {"archive@example.org", ""}};
  c.aliases = {{"bob@example.org", {"bob@example.org", "archive@example.org"}},
               {"self@example.org", {"self@example.org"}}};
  // self@ is not a user: an alias pointing only at itself is rejected.
  auto err = create_error(c);
  EXPECT_NE(err.find("aliases.\"self@example.org\""), std::string::npos) << err;
  c.aliases.erase("self@example.org");
  auto d = make(c);
  auto r = d.resolve("bob", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.expansion, (Strings{"bob@example.org", "archive@example.org"}));
}

TEST(Directory, AliasToItselfOnlyIsLocalNotForward) {
  auto c = base();  // no users: every local part is a user
  c.aliases = {{"me@example.org", {"ME@example.org"}}};
  auto d = make(c);
  auto r = d.resolve("me", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_TRUE(r.forward_to.empty());
}

TEST(Directory, AliasesWithoutUsersMap) {
  auto c = base();
  c.aliases = {{"sales@example.org", {"anyone@example.net"}}};
  auto d = make(c);
  EXPECT_EQ(d.resolve("sales", "example.org").verdict, Verdict::Forward);
  EXPECT_EQ(d.resolve("random", "example.org").verdict, Verdict::Local);
}

TEST(Directory, CatchAll) {
  auto c = base();
  c.users = {{"alice@example.org", ""}, {"bin@example.org", "/srv/bin"}};
  c.catch_all = "BIN@example.org";
  auto d = make(c);
  auto r = d.resolve("nobody", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Local);
  EXPECT_EQ(r.maildirs, Strings{"/srv/bin"});
  EXPECT_EQ(r.expansion, Strings{"bin@example.org"});
  EXPECT_EQ(d.resolve("nobody", "example.net").verdict, Verdict::Local);  // any local domain
  EXPECT_EQ(d.resolve("alice", "example.org").maildirs,
            Strings{"/var/mail/example.org/alice"});  // users first
  EXPECT_EQ(d.resolve("postmaster", "example.org").maildirs,
            Strings{"/var/mail/example.org/postmaster"});  // postmaster before catch-all
  EXPECT_EQ(d.resolve("nobody", "example.com").verdict, Verdict::RelayDenied);
}

TEST(Directory, CatchAllToAlias) {
  auto c = base();
  c.users = {{"a@example.org", ""}, {"b@example.org", ""}};
  c.aliases = {{"ops@example.org", {"a@example.org", "b@example.org"}}};
  c.catch_all = "ops@example.org";
  auto d = make(c);
  EXPECT_EQ(d.resolve("zzz", "example.org").maildirs.size(), 2u);
}

TEST(Directory, CreateRejectsBadCatchAll) {
  auto c = base();
  c.users = {{"alice@example.org", ""}};
  c.catch_all = "bin@other.net";
  EXPECT_NE(create_error(c).find("catch_all \"bin@other.net\""), std::string::npos);
  c.catch_all = "nobody@example.org";
  EXPECT_NE(create_error(c).find("not a known user"), std::string::npos);
  c.catch_all = "no-at-sign";
  EXPECT_NE(create_error(c).find("not an address"), std::string::npos);
}

TEST(Directory, AliasTargetsInOtherDomainsAreForwarded) {
  auto c = base();
  c.users = {{"alice@example.org", ""}};
  c.aliases = {{"info@example.org", {"x@other.net"}},
               {"team@example.org", {"alice@example.org", "y@other.net", "info@example.org"}}};
  auto d = make(c);
  auto one = d.resolve("info", "example.org");
  EXPECT_EQ(one.verdict, Verdict::Forward);  // 251 User not local; will forward to <x@other.net>
  EXPECT_EQ(one.forward_to, "x@other.net");
  EXPECT_TRUE(one.maildirs.empty());
  EXPECT_EQ(one.remote, std::vector<std::string>{"x@other.net"});
  auto team = d.resolve("team", "example.org");
  EXPECT_EQ(team.verdict, Verdict::Local);
  EXPECT_EQ(team.maildirs.size(), 1u);
  EXPECT_EQ(team.remote, (std::vector<std::string>{"y@other.net", "x@other.net"}));
}

TEST(Directory, CreateRejectsAnAddressLiteralAliasTarget) {
  auto c = base();
  c.aliases = {{"info@example.org", {"x@[192.0.2.1]"}}};
  EXPECT_EQ(create_error(c),
            "aliases.\"info@example.org\": target \"x@[192.0.2.1]\" is not a "
            "forwardable address");
}

TEST(Directory, CreateRejectsNonLocalKeys) {
  auto c = base();
  c.users = {{"alice@other.net", ""}};
  EXPECT_EQ(create_error(c),
            "users.\"alice@other.net\": domain \"other.net\" is not a local domain");
  c = base();
  c.aliases = {{"info@other.net", {"a@example.org"}}};
  EXPECT_NE(create_error(c).find("aliases.\"info@other.net\""), std::string::npos);
  c = base();
  c.users = {{"nodomain", ""}};
  EXPECT_NE(create_error(c).find("users.\"nodomain\": not an address"), std::string::npos);
}

TEST(Directory, CreateRejectsUnknownAliasTarget) {
  auto c = base();
  c.users = {{"alice@example.org", ""}};
  c.aliases = {{"info@example.org", {"alice@example.org", "ghost@example.org"}}};
  EXPECT_EQ(create_error(c),
            "aliases.\"info@example.org\": target \"ghost@example.org\" is not a known user");
}

TEST(Directory, CreateRejectsAliasLoops) {
  auto c = base();
  c.aliases = {{"a@example.org", {"b@example.org"}},
               {"b@example.org", {"c@example.org"}},
               {"c@example.org", {"A@example.org"}}};
  auto err = create_error(c);
  EXPECT_NE(err.find("alias loop"), std::string::npos) << err;
  EXPECT_NE(err.find("aliases.\"a@example.org\""), std::string::npos) << err;
}

TEST(Directory, AliasDepthLimit) {
  // A chain of 16 aliases ending at a user is fine; 17 is too deep.
  auto chain = [](int aliases) {
    auto c = base();
    for (int i = 0; i < aliases; ++i) {
      c.aliases["a" + std::to_string(i) + "@example.org"] = {
          i + 1 < aliases ? "a" + std::to_string(i + 1) + "@example.org" : "user@example.org"};
    }
    return c;
  };
  auto d = make(chain(16));
  auto r = d.resolve("a0", "example.org");
  EXPECT_EQ(r.verdict, Verdict::Forward);
  EXPECT_EQ(r.forward_to, "user@example.org");
  EXPECT_NE(create_error(chain(17)).find("deeper than 16"), std::string::npos);
}

TEST(Directory, CreateRejectsBadDomainsAndRoot) {
  auto c = base();
  c.domains = {};
  EXPECT_NE(create_error(c).find("domains"), std::string::npos);
  for (const auto& bad : Strings{"../etc", "a/b", "", ".hidden", "a..b", std::string("a\0b", 3)}) {
    c.domains = {bad};
    EXPECT_NE(create_error(c).find("domains"), std::string::npos) << bad;
  }
  c = base();
  c.mail_root = "";
  EXPECT_NE(create_error(c).find("mail_root"), std::string::npos);
}

TEST(Directory, CreateRejectsDuplicatesAfterFolding) {
  auto c = base();
  c.users = {{"Bob@example.org", "/a"}, {"bob@example.org", "/b"}};
  EXPECT_NE(create_error(c).find("duplicate"), std::string::npos);
}

TEST(Directory, DefaultMaildirPathSafety) {
  auto d = make(base());
  EXPECT_EQ(d.default_maildir("alice", "example.org"), "/var/mail/example.org/alice");
  EXPECT_EQ(d.default_maildir("..", "example.org"), "/var/mail/example.org/%2E.");
  EXPECT_EQ(d.default_maildir(".", "example.org"), "/var/mail/example.org/%2E");
  EXPECT_EQ(d.default_maildir("../../etc", "example.org"), "/var/mail/example.org/%2E.%2F..%2Fetc");
  EXPECT_EQ(d.default_maildir("a/b", "example.org"), "/var/mail/example.org/a%2Fb");
  EXPECT_EQ(d.default_maildir("a\\b", "example.org"), "/var/mail/example.org/a%5Cb");
  EXPECT_EQ(d.default_maildir(".hidden", "example.org"), "/var/mail/example.org/%2Ehidden");
  EXPECT_EQ(d.default_maildir("a.b.", "example.org"), "/var/mail/example.org/a.b.");
  EXPECT_EQ(d.default_maildir("100%", "example.org"), "/var/mail/example.org/100%25");
  EXPECT_EQ(d.default_maildir(std::string_view("a\0b", 3), "example.org"),
            "/var/mail/example.org/a%00b");
  EXPECT_EQ(d.default_maildir("a\nb\x7f\x1f", "example.org"), "/var/mail/example.org/a%0Ab%7F%1F");
  EXPECT_EQ(d.default_maildir("jörg", "example.org"), "/var/mail/example.org/jörg");
  // An empty (quoted "") local part never maps to the domain directory itself.
  EXPECT_EQ(d.default_maildir("", "example.org"), "/var/mail/example.org/%22%22");
}

TEST(Directory, ResolvedPathsNeverEscape) {
  auto d = make(base());
  for (std::string local : {"..", "../../etc", "a/b", ".hidden", "./x", "%2e%2e"}) {
    auto r = d.resolve(local, "example.org");
    ASSERT_EQ(r.verdict, Verdict::Local) << local;
    ASSERT_EQ(r.maildirs.size(), 1u);
    const std::string& md = r.maildirs[0];
    const std::string prefix = "/var/mail/example.org/";
    ASSERT_EQ(md.rfind(prefix, 0), 0u) << md;
    std::string leaf = md.substr(prefix.size());
    EXPECT_EQ(leaf.find('/'), std::string::npos) << md;
    EXPECT_NE(leaf.front(), '.') << md;
  }
}

TEST(Directory, MailRootSlash) {
  auto c = base();
  c.mail_root = "/";
  auto d = make(c);
  EXPECT_EQ(d.default_maildir("a", "example.org"), "/example.org/a");
}

TEST(Directory, StoreDomainUsersGoToTheQueue) {
  // A domain whose mailboxes are in another store (LMTP): the same checks as a Maildir domain,
  // but every final address is handed to the queue.
  auto c = base();
  c.store_domains = {"EXAMPLE.net"};
  c.users = {
      {"alice@example.org", ""}, {"bob@example.net", "/ignored/bob"}, {"carol@example.net", ""}};
  c.aliases = {{"team@example.org", {"alice@example.org", "bob@example.net"}},
               {"sales@example.net", {"carol@example.net", "x@remote.test"}}};
  auto d = make(c);
  auto bob = d.resolve("Bob", "example.net");
  EXPECT_EQ(bob.verdict, Verdict::Local);
  EXPECT_TRUE(bob.maildirs.empty());
  EXPECT_EQ(bob.remote, Strings{"bob@example.net"});
  // Unknown in a store domain: refused here, at RCPT (no backscatter from the store's 550).
  EXPECT_EQ(d.resolve("nobody", "example.net").verdict, Verdict::UserUnknown);
  // postmaster is always ours, and goes to the store too.
  EXPECT_EQ(d.resolve("postmaster", "example.net").remote, Strings{"postmaster@example.net"});
  // An alias in a Maildir domain fans out to a Maildir and the store.
  auto team = d.resolve("team", "example.org");
  EXPECT_EQ(team.maildirs, Strings{"/var/mail/example.org/alice"});
  EXPECT_EQ(team.remote, Strings{"bob@example.net"});
  auto sales = d.resolve("sales", "example.net");
  EXPECT_TRUE(sales.maildirs.empty());
  EXPECT_EQ(sales.remote, (Strings{"carol@example.net", "x@remote.test"}));
}

TEST(Directory, StoreDomainMustBeLocal) {
  auto c = base();
  c.store_domains = {"remote.test"};
  EXPECT_NE(create_error(c).find("\"remote.test\""), std::string::npos);
}

}  // namespace
}  // namespace taube::policy
