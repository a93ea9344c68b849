#include "policy/aliases_file.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/directory.hpp"

namespace taube::policy {
namespace {

using Strings = std::vector<std::string>;

AliasesFile parse(std::string_view text) {
  auto r = parse_aliases_file(text, "/etc/aliases");
  EXPECT_TRUE(r) << r.error();
  return r ? *r : AliasesFile{};
}

std::string error_of(std::string_view text) {
  auto r = parse_aliases_file(text, "/etc/aliases");
  EXPECT_FALSE(r);
  return r ? std::string() : r.error();
}

TEST(AliasesFile, NamesAndTargets) {
  auto f = parse("postmaster: root\nStaff: alice, bob@example.net ,carol\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].name, "postmaster");
  EXPECT_EQ(f.entries[0].targets, Strings{"root"});
  EXPECT_EQ(f.entries[0].line, 1u);
  EXPECT_EQ(f.entries[1].name, "staff");  // names fold to lower case
  EXPECT_EQ(f.entries[1].targets, (Strings{"alice", "bob@example.net", "carol"}));
  EXPECT_EQ(f.entries[1].line, 2u);
}

TEST(AliasesFile, CommentsAndBlankLinesAreSkipped) {
  auto f = parse("# header comment\n\n   # indented comment\n\t\nroot: admin\n#end");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].line, 5u);
  EXPECT_EQ(f.entries[0].targets, Strings{"admin"});
}

TEST(AliasesFile, HashInsideAnEntryIsAnOrdinaryCharacter) {
  auto f = parse("a: b#c\n");
  EXPECT_EQ(f.entries[0].targets, Strings{"b#c"});
}

TEST(AliasesFile, ContinuationLinesJoinTheEntry) {
  auto f = parse("staff: alice,\n  bob,\n\tcarol\nother: x\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].targets, (Strings{"alice", "bob", "carol"}));
  EXPECT_EQ(f.entries[1].line, 4u);
}

TEST(AliasesFile, CommentAndBlankLinesInsideAContinuationDoNotEndIt) {
  // Postfix's readlline: a blank or comment line is skipped, the indented line still continues.
  auto f = parse("staff: alice,\n# who else\n\n  bob\n");
  ASSERT_EQ(f.entries.size(), 1u);
  EXPECT_EQ(f.entries[0].targets, (Strings{"alice", "bob"}));
}

TEST(AliasesFile, ContinuationWithoutCommaSeparatesNothing) {
  // The line break is blank space, not a separator: "alice bob" is one (invalid) target.
  EXPECT_EQ(error_of("staff: alice\n  bob\n"),
            "/etc/aliases:1: \"alice bob\": not an address (local or local@domain)");
}

TEST(AliasesFile, CrLfLineEndingsAndEmptyItems) {
  auto f = parse("a: b,,c,\r\nd: e\r\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].targets, (Strings{"b", "c"}));
  EXPECT_EQ(f.entries[1].targets, Strings{"e"});
}

TEST(AliasesFile, QuotedNamesAndTargets) {
  auto f = parse("\"first last\": \"first.last\", \\bob\n\"a:b\" : c\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[0].name, "first last");
  EXPECT_EQ(f.entries[0].targets, (Strings{"first.last", "bob"}));  // "\bob": the user bob
  EXPECT_EQ(f.entries[1].name, "a:b");
}

TEST(AliasesFile, OwnerListsAreAliases) {
  auto f = parse("list: a, b\nowner-list: a\n");
  ASSERT_EQ(f.entries.size(), 2u);
  EXPECT_EQ(f.entries[1].name, "owner-list");
  EXPECT_EQ(f.entries[1].targets, Strings{"a"});
}

TEST(AliasesFile, IncludeCommandAndFileTargetsAreRefusedWithTheirLine) {
  EXPECT_EQ(error_of("a: b\nlist: :include:/etc/mail/list\n"),
            "/etc/aliases:2: \":include:/etc/mail/list\": :include: lists are not supported "
            "(list the addresses here)");
  EXPECT_NE(error_of("a: b,\n  \"|/usr/bin/procmail -m\"\n")
                .find("/etc/aliases:2: \"\"|/usr/bin/procmail -m\"\": delivery to a command is not "
                      "supported"),
            std::string::npos);
  EXPECT_NE(error_of("a: |/bin/cat\n").find("/etc/aliases:1: \"|/bin/cat\": delivery to a command"),
            std::string::npos);
  EXPECT_NE(error_of("a: b, /var/log/mail.txt\n")
                .find("/etc/aliases:1: \"/var/log/mail.txt\": delivery to a file is not supported"),
            std::string::npos);
  EXPECT_NE(error_of("a: :INCLUDE:/x\n").find(":include: lists are not supported"),
            std::string::npos);
}

TEST(AliasesFile, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(error_of("  root: x\n"),
            "/etc/aliases:1: continuation line (it starts with blank space) without an entry "
            "before it");
  EXPECT_EQ(error_of("a: b\nroot\n"), "/etc/aliases:2: expected \"name: target, ...\"");
  EXPECT_EQ(error_of("a: b\nroot admin\n"),
            "/etc/aliases:2: expected \"name: target, ...\" (a name with blank space must be "
            "quoted)");
  EXPECT_EQ(error_of("first last: x\n"),
            "/etc/aliases:1: expected \"name: target, ...\" (a name with blank space must be "
            "quoted)");
  EXPECT_EQ(error_of(": x\n"), "/etc/aliases:1: empty alias name");
  EXPECT_EQ(error_of("\"open: x\n"), "/etc/aliases:1: unterminated quoted name");
  EXPECT_EQ(error_of("a: \"b\n"), "/etc/aliases:1: unterminated quoted string");
  EXPECT_EQ(error_of("a: \"b\"c\n"), "/etc/aliases:1: text after the quoted target \"b\"c");
  EXPECT_EQ(error_of("a:\n"), "/etc/aliases:1: an alias needs at least one target");
  EXPECT_EQ(error_of("a: , ,\n"), "/etc/aliases:1: an alias needs at least one target");
  EXPECT_EQ(error_of("a: <b@x>\n"),
            "/etc/aliases:1: \"<b@x>\": not an address (local or local@domain)");
  EXPECT_EQ(error_of("a: b@\n"), "/etc/aliases:1: \"b@\": not an address (local or local@domain)");
  EXPECT_EQ(error_of("a<: b\n"), "/etc/aliases:1: \"a<\" is not a name or an address");
  EXPECT_EQ(error_of("a: b\nx: y\nA: c\n"),
            "/etc/aliases:3: duplicate alias \"a\" (first on line 1)");
  EXPECT_EQ(error_of(std::string_view("a: b\0c\n", 7)), "/etc/aliases:1: NUL octet");
}

TEST(AliasesFile, ErrorInAContinuationNamesThatLine) {
  EXPECT_EQ(error_of("staff: alice,\n  bob,\n  /tmp/x\n").substr(0, 16), "/etc/aliases:3: ");
}

TEST(AliasesFile, BareNamesApplyToEveryLocalDomain) {
  auto f = parse("postmaster: root\nstaff: alice, bob@elsewhere.test\ndev@example.net: carol\n");
  std::map<std::string, Strings> aliases;
  auto origin = add_file_aliases(f, "/etc/aliases", {"example.org", "Example.NET"}, aliases);
  ASSERT_TRUE(origin) << origin.error();
  EXPECT_EQ(aliases["postmaster@example.org"], Strings{"root@example.org"});
  EXPECT_EQ(aliases["postmaster@example.net"], Strings{"root@example.net"});
  EXPECT_EQ(aliases["staff@example.net"], (Strings{"alice@example.net", "bob@elsewhere.test"}));
  EXPECT_EQ(aliases["dev@example.net"], Strings{"carol@example.net"});
  EXPECT_FALSE(aliases.contains("dev@example.org"));
  EXPECT_EQ(origin->at("staff@example.org"), 2u);
  EXPECT_EQ(origin->at("dev@example.net"), 3u);
}

TEST(AliasesFile, AnAddressAlsoInTheTomlTableIsAnError) {
  auto f = parse("\n\nstaff: alice\n");
  std::map<std::string, Strings> aliases{{"Staff@Example.org", {"bob@example.org"}}};
  auto origin = add_file_aliases(f, "/etc/aliases", {"example.org"}, aliases);
  ASSERT_FALSE(origin);
  EXPECT_EQ(origin.error(),
            "/etc/aliases:3: alias \"staff@example.org\" is also in the [aliases] table");
}

TEST(AliasesFile, TheDirectoryResolvesFileAliases) {
  auto f = parse("staff: alice,\n  bob\nowner-staff: alice\n");
  DirectoryConfig c;
  c.domains = {"example.org"};
  c.users = {{"alice@example.org", ""}, {"bob@example.org", ""}};
  ASSERT_TRUE(add_file_aliases(f, "aliases", c.domains, c.aliases));
  auto d = Directory::create(c);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->resolve("staff", "example.org").expansion,
            (Strings{"alice@example.org", "bob@example.org"}));
  EXPECT_EQ(d->resolve("owner-staff", "example.org").expansion, Strings{"alice@example.org"});
}

}  // namespace
}  // namespace taube::policy
