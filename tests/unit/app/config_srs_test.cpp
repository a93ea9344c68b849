// The [srs] table (app/config_srs.hpp): keys, the secret file, the errors naming key and line.
#include <gtest/gtest.h>

#include <string>

#include "app/config.hpp"
#include "app/config_files.hpp"
#include "app/config_srs.hpp"

namespace taube::app {
namespace {

using ConfigSrsTest = test::ConfigFiles;

TEST_F(ConfigSrsTest, OffByDefault) {
  const Config c = default_config();
  EXPECT_FALSE(c.srs.enabled);
  EXPECT_EQ(c.srs.max_age_days, 21);
  EXPECT_FALSE(c.server.relay.srs);
  EXPECT_TRUE(srs_notes(c).empty());
  // Off, no secret is needed (and none is read).
  auto off = load_config(write("[srs]\nenabled = false\nsecret_file = \"/nonexistent\"\n"));
  ASSERT_TRUE(off) << off.error();
  EXPECT_FALSE(off->server.relay.srs);
}

TEST_F(ConfigSrsTest, Read) {
  const std::string secrets = write("n3w-secret\r\n\nold-secret\n");
  auto c =
      load_config(write("[delivery]\ndomains = [\"Example.ORG\"]\n[srs]\nenabled = true\n"
                        "domain = \"SRS.Example.org\"\nsecret_file = \"" +
                        secrets + "\"\nmax_age_days = 30\nexclude_domains = [\"Partner.TEST\"]\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->srs.enabled);
  EXPECT_EQ(c->srs.domain, "srs.example.org");
  EXPECT_EQ(c->srs.secrets, (std::vector<std::string>{"n3w-secret", "old-secret"}));
  EXPECT_EQ(c->srs.max_age_days, 30);
  EXPECT_EQ(c->srs.exclude_domains, std::vector<std::string>{"partner.test"});
  ASSERT_TRUE(c->server.relay.srs);
  ASSERT_TRUE(c->server.relay.today);
  EXPECT_GT(c->server.relay.today(), 19000);  // days since 1970: after 2022
  ASSERT_EQ(srs_notes(*c).size(), 1u);
  EXPECT_NE(srs_notes(*c)[0].find("SRS0=...@srs.example.org, 2 secrets"), std::string::npos)
      << srs_notes(*c)[0];
}

TEST_F(ConfigSrsTest, TheInstalledHmacIsHmacSha1) {
  const std::string secrets = write("tops3cr3t\n");
  auto c = load_config(write("[srs]\nenabled = true\nsecret_file = \"" + secrets + "\"\n"));
  ASSERT_TRUE(c) << c.error();
  auto s = c->server.relay.srs->with_domain("example.com");
  auto f = s.forward("test@otherdomain.com", 18262);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, "SRS0=vmyz=2W=otherdomain.com=test@example.com");
}

TEST_F(ConfigSrsTest, TheDefaultDomainIsTheFirstLocalDomain) {
  const std::string secrets = write("k\n");
  auto c =
      load_config(write("[delivery]\ndomains = [\"Mail.Example\", \"b.example\"]\n[srs]\n"
                        "enabled = true\nsecret_file = \"" +
                        secrets + "\"\n"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->srs.domain, "");  // resolved by recipient policy, after command-line overrides
  EXPECT_EQ(srs_domain(*c), "mail.example");
  EXPECT_NE(srs_notes(*c)[0].find("@mail.example, 1 secret,"), std::string::npos);
}

TEST_F(ConfigSrsTest, EnabledNeedsASecret) {
  auto c = load_config(write("[srs]\n\nenabled = true\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":3: srs.secret_file: required when srs.enabled = true"),
            std::string::npos)
      << c.error();
  c = load_config(write("[srs]\nenabled = true\nsecret_file = \"/nonexistent/srs.secret\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":3: srs.secret_file: cannot read \"/nonexistent/srs.secret\""),
            std::string::npos)
      << c.error();
  const std::string empty = write("\n\r\n");
  c = load_config(write("[srs]\nenabled = true\nsecret_file = \"" + empty + "\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("srs.secret_file: \"" + empty + "\" holds no secret"), std::string::npos)
      << c.error();
}

TEST_F(ConfigSrsTest, BadSecretLinesNameFileAndLine) {
  for (const std::string bad : {"ok\n\n  padded\n", "ok\n\nbell\a\n", "ok\n\ntrailing \n"}) {
    const std::string f = write(bad);
    auto c = load_config(write("[srs]\nenabled = true\nsecret_file = \"" + f + "\"\n"));
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().find("srs.secret_file: " + f + ":3: a secret with"), std::string::npos)
        << c.error();
  }
}

TEST_F(ConfigSrsTest, BadValues) {
  auto c = load_config(write("[srs]\ndomain = \"not a domain\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find(":2: srs.domain: invalid domain"), std::string::npos) << c.error();
  c = load_config(write("[srs]\nmax_age_days = 1024\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("srs.max_age_days"), std::string::npos) << c.error();
  c = load_config(write("[srs]\nexclude_domains = [\"a..b\"]\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("srs.exclude_domains: invalid domain"), std::string::npos);
  c = load_config(write("[srs]\nsecret = \"inline\"\n"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("srs.secret"), std::string::npos) << c.error();
}

}  // namespace
}  // namespace taube::app
