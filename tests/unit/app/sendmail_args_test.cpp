// sendmail(8)'s command line as getopt(3) parses it on Linux (app/sendmail_args.hpp).
#include "app/sendmail_args.hpp"

#include <gtest/gtest.h>

namespace taube::app {
namespace {

SendmailArgs ok(const std::vector<std::string>& v) {
  auto a = parse_sendmail_args(v);
  EXPECT_TRUE(a) << (a ? "" : a.error());
  return a ? *a : SendmailArgs{};
}

std::string err(const std::vector<std::string>& v) {
  auto a = parse_sendmail_args(v);
  EXPECT_FALSE(a);
  return a ? "" : a.error();
}

TEST(SendmailArgs, PlainRecipientsDeliverByDefault) {
  const auto a = ok({"bob@example.org", "carol"});
  EXPECT_EQ(a.mode, SendmailMode::Deliver);
  EXPECT_EQ(a.recipients, (std::vector<std::string>{"bob@example.org", "carol"}));
  EXPECT_FALSE(a.extract_recipients);
  EXPECT_FALSE(a.ignore_dots);
  EXPECT_FALSE(a.sender);
}

TEST(SendmailArgs, ClusteredFlagsAndAttachedOrSeparateArguments) {
  // PHP's mail(): "-t -i"; mailx: "-oi"; git send-email: "-i -f addr".
  auto a = ok({"-ti", "-falice@example.org", "-F", "Alice A", "bob"});
  EXPECT_TRUE(a.extract_recipients);
  EXPECT_TRUE(a.ignore_dots);
  EXPECT_EQ(a.sender, "alice@example.org");
  EXPECT_EQ(a.full_name, "Alice A");
  EXPECT_EQ(a.recipients, std::vector<std::string>{"bob"});
  a = ok({"-tf", "alice@x", "-vi"});
  EXPECT_EQ(a.sender, "alice@x");
  EXPECT_TRUE(a.verbose);
  EXPECT_TRUE(a.ignore_dots);
  EXPECT_TRUE(ok({"-oi"}).ignore_dots);
  EXPECT_TRUE(ok({"-o", "i"}).ignore_dots);
  EXPECT_EQ(ok({"-r", "x@y"}).sender, "x@y");
}

TEST(SendmailArgs, TheCommandLinesOfRealCallers) {
  // Debian's cron (cron/do_command.c).
  auto a = ok({"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"});
  EXPECT_EQ(a.full_name, "CronDaemon");
  EXPECT_TRUE(a.ignore_dots);
  EXPECT_EQ(a.body, smtp::BodyType::EightBitMime);
  EXPECT_EQ(a.recipients, std::vector<std::string>{"root"});
  // bsd-mailx, s-nail, PHP's default sendmail_path, git send-email.
  EXPECT_TRUE(ok({"-i", "-t"}).extract_recipients);
  EXPECT_EQ(ok({"-i", "--", "alice@example.org"}).recipients,
            std::vector<std::string>{"alice@example.org"});
  EXPECT_TRUE(ok({"-t", "-i"}).ignore_dots);
  a = ok({"-i", "-f", "dev@example.org", "list@example.org", "maint@example.org"});
  EXPECT_EQ(a.sender, "dev@example.org");
  EXPECT_EQ(a.recipients.size(), 2u);
}

TEST(SendmailArgs, NullSender) {
  EXPECT_EQ(ok({"-f", "<>", "bob"}).sender, "");
  EXPECT_EQ(ok({"-f", "", "bob"}).sender, "");
  EXPECT_EQ(ok({"-f<alice@x>", "bob"}).sender, "alice@x");
}

TEST(SendmailArgs, OtherOOptionsAreIgnoredSilently) {
  const auto a = ok({"-oem", "-odb", "-oQ/var/spool", "-om", "bob"});
  EXPECT_FALSE(a.ignore_dots);
  EXPECT_EQ(a.ignored, (std::vector<std::string>{"-oem", "-odb", "-oQ/var/spool", "-om"}));
  EXPECT_EQ(a.recipients, std::vector<std::string>{"bob"});
  // Sendmail's other accepted-and-ignored letters.
  EXPECT_EQ(ok({"-U", "-m", "-n", "-G", "-x", "-c", "-h", "17", "-Lname", "-X", "/tmp/log", "-XV",
                "-e", "q", "bob"})
                .recipients,
            std::vector<std::string>{"bob"});
}

TEST(SendmailArgs, OptionsAfterOperandsAndTheDoubleDash) {
  auto a = ok({"bob", "-f", "alice@x", "carol"});
  EXPECT_EQ(a.sender, "alice@x");
  EXPECT_EQ(a.recipients, (std::vector<std::string>{"bob", "carol"}));
  a = ok({"-i", "--", "-weird@x", "-t"});
  EXPECT_FALSE(a.extract_recipients);
  EXPECT_EQ(a.recipients, (std::vector<std::string>{"-weird@x", "-t"}));
  // A lone "-" is an operand, as getopt has it.
  EXPECT_EQ(ok({"-"}).recipients, std::vector<std::string>{"-"});
}

TEST(SendmailArgs, Modes) {
  EXPECT_EQ(ok({"-bs"}).mode, SendmailMode::Smtp);
  EXPECT_EQ(ok({"-bp"}).mode, SendmailMode::ListQueue);
  EXPECT_EQ(ok({"-bm", "x"}).mode, SendmailMode::Deliver);
  EXPECT_EQ(ok({"-bi"}).mode, SendmailMode::Newaliases);
  EXPECT_EQ(ok({"-I"}).mode, SendmailMode::Newaliases);
  EXPECT_EQ(ok({"-b", "s"}).mode, SendmailMode::Smtp);
  auto q = ok({"-q"});
  EXPECT_EQ(q.mode, SendmailMode::Flush);
  EXPECT_EQ(q.flush_domain, "");
  EXPECT_EQ(ok({"-qRexample.org"}).flush_domain, "example.org");
  EXPECT_EQ(ok({"-qR", "example.org"}).flush_domain, "example.org");
  EXPECT_EQ(ok({"-q30m"}).mode, SendmailMode::Flush);
  EXPECT_NE(err({"-bd"}).find("taube serve"), std::string::npos);
  EXPECT_NE(err({"-bt"}).find("unsupported"), std::string::npos);
}

TEST(SendmailArgs, DsnOptions) {
  const auto a = ok({"-N", "success,FAILURE", "-B", "8bitmime", "-V", "id-42", "-R", "hdrs", "x"});
  EXPECT_EQ(a.notify, unsigned{smtp::NotifySuccess | smtp::NotifyFailure});
  EXPECT_EQ(a.body, smtp::BodyType::EightBitMime);
  EXPECT_EQ(a.envid, "id-42");
  EXPECT_EQ(a.ret, smtp::DsnRet::Headers);
  EXPECT_EQ(ok({"-Nnever"}).notify, unsigned{smtp::NotifyNever});
  EXPECT_EQ(ok({"-N", "delay"}).notify, unsigned{smtp::NotifyDelay});
  EXPECT_EQ(ok({"-B7BIT"}).body, smtp::BodyType::SevenBit);
  EXPECT_EQ(ok({"-Rfull"}).ret, smtp::DsnRet::Full);
  EXPECT_EQ(ok({"-C", "/etc/x.toml"}).config, "/etc/x.toml");
  err({"-N", "never,success"});
  err({"-N", "sometimes"});
  err({"-B", "BINARYMIME"});
  err({"-R", "most"});
  err({"-V", "has space"});
  err({"-V", std::string(101, 'a')});
}

TEST(SendmailArgs, UsageErrors) {
  EXPECT_NE(err({"-z"}).find("invalid option -- 'z'"), std::string::npos);
  EXPECT_NE(err({"-tz"}).find("'z'"), std::string::npos);
  EXPECT_NE(err({"-f"}).find("requires an argument -- 'f'"), std::string::npos);
  err({"-qSsender"});
}

TEST(SendmailArgs, ParseNotify) {
  EXPECT_EQ(parse_notify("Never"), unsigned{smtp::NotifyNever});
  EXPECT_EQ(parse_notify("delay,success,failure"),
            unsigned{smtp::NotifyDelay | smtp::NotifySuccess | smtp::NotifyFailure});
  EXPECT_FALSE(parse_notify(""));
  EXPECT_FALSE(parse_notify("success,"));
}

}  // namespace
}  // namespace taube::app
