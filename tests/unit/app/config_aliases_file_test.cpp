#include "app/config.hpp"
#include "app/config_files.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace taube::app {
namespace {

using ConfigAliasesFile = test::ConfigFiles;
using Strings = std::vector<std::string>;

TEST_F(ConfigAliasesFile, FileAliasesJoinTheTable) {
  const std::string aliases = write("postmaster: alice\nstaff: alice,\n  bob\n");
  auto c =
      load_config(write("[delivery]\ndomains = [\"example.org\", \"example.net\"]\n"
                        "[aliases]\nfile = \"" +
                        aliases + "\"\n\"info@example.org\" = [\"bob@example.org\"]\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->aliases_file, aliases);
  auto d = validate(*c);
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->resolve("staff", "example.net").expansion,
            (Strings{"alice@example.net", "bob@example.net"}));
  EXPECT_EQ(d->resolve("postmaster", "example.org").expansion, Strings{"alice@example.org"});
  EXPECT_EQ(d->resolve("info", "example.org").expansion, Strings{"bob@example.org"});
}

TEST_F(ConfigAliasesFile, ParseErrorsNameTheAliasesFile) {
  const std::string aliases = write("ok: alice\nbad: :include:/etc/list\n");
  auto c = load_config(write("[aliases]\nfile = \"" + aliases + "\"\n"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind(aliases + ":2: \":include:/etc/list\": :include: lists", 0), 0u)
      << c.error();
}

TEST_F(ConfigAliasesFile, UnreadableOrWrongTypeNamesTheConfigLine) {
  const std::string cfg = write("\n[aliases]\nfile = \"/nonexistent/aliases\"\n");
  auto c = load_config(cfg);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), cfg +
                           ":3: aliases.file: cannot read /nonexistent/aliases: No such file or "
                           "directory");
  const std::string typed = write("[aliases]\nfile = 3\n");
  c = load_config(typed);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), typed + ":2: aliases.file: expected a string");
}

TEST_F(ConfigAliasesFile, DirectoryErrorsInFileAliasesNameTheLine) {
  const std::string aliases = write("# users only\n\nx: nobody\n");
  auto c =
      load_config(write("[delivery]\ndomains = [\"example.org\"]\n[users]\n"
                        "\"alice@example.org\" = \"\"\n[aliases]\nfile = \"" +
                        aliases + "\"\n"));
  ASSERT_TRUE(c) << c.error();
  auto d = validate(*c);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), aliases +
                           ":3: aliases.\"x@example.org\": target \"nobody@example.org\" is "
                           "not a known user");
}

}  // namespace
}  // namespace taube::app
