#include "app/send_dialog.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace taube::app {
namespace {

TEST(SendDialog, TranscriptAsClientAndServerLines) {
  SendDialog d("Subject: x\n\nbody\n.dot\n");
  const std::vector<std::string> t = {"< 220 mx ESMTP", "> EHLO me",      "< 250-mx",
                                      "< 250 STARTTLS", "> STARTTLS",     "< 220 2.0.0 Ready",
                                      "> EHLO me",      "< 250 mx",       "> MAIL FROM:<a@b>",
                                      "> DATA",         "< 354 go ahead", "> [content: 22 octets]",
                                      "< 250 2.0.0 Ok", "[... truncated]"};
  EXPECT_EQ(d.lines(t, 0, "TLSv1.3"),
            "S: 220 mx ESMTP\nC: EHLO me\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\n"
            "S: 220 2.0.0 Ready\n*** TLS started: TLSv1.3\nC: EHLO me\nS: 250 mx\n"
            "C: MAIL FROM:<a@b>\nC: DATA\nS: 354 go ahead\n"
            "C: Subject: x\nC: \nC: body\nC: ..dot\nC: .\nS: 250 2.0.0 Ok\n[... truncated]\n");
}

TEST(SendDialog, FromAnIndexAndWithoutTls) {
  SendDialog d("");
  const std::vector<std::string> t = {"> STARTTLS", "< 220 go", "> QUIT", "< 221 Bye"};
  EXPECT_EQ(d.lines(t, 2), "C: QUIT\nS: 221 Bye\n");
  SendDialog e("");
  EXPECT_EQ(e.lines(t, 0), "C: STARTTLS\nS: 220 go\nC: QUIT\nS: 221 Bye\n");  // no TLS given
}

TEST(SendDialog, BdatContentIsNotDotStuffed) {
  SendDialog d(".x\n");
  const std::vector<std::string> t = {"> RCPT TO:<b@c>", "> [content: 3 octets]"};
  EXPECT_EQ(d.lines(t), "C: RCPT TO:<b@c>\n*** content in BDAT chunks (RFC 3030):\nC: .x\n");
  EXPECT_EQ(SendDialog::note("Trying x"), "*** Trying x\n");
}

}  // namespace
}  // namespace taube::app
