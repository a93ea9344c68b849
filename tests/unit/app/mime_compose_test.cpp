#include "app/mime_compose.hpp"

#include <gtest/gtest.h>

#include <string>

#include "smtp/wire/base64.hpp"

namespace taube::app {
namespace {

ComposeInput basic() {
  ComposeInput in;
  in.from = "alice@example.org";
  in.to = {"bob@example.net"};
  in.subject = "hello";
  in.body = "line one\r\nline two";
  in.date = "Tue, 04 Mar 2025 09:05:00 +0100";
  in.message_id = "<1.abc@client.test>";
  in.boundary = "=_b";
  return in;
}

TEST(MimeCompose, PlainMessageInStoredForm) {
  EXPECT_EQ(compose_message(basic()),
            "Date: Tue, 04 Mar 2025 09:05:00 +0100\n"
            "From: alice@example.org\n"
            "To: bob@example.net\n"
            "Subject: hello\n"
            "Message-ID: <1.abc@client.test>\n"
            "\n"
            "line one\nline two\n");
}

TEST(MimeCompose, GivenHeadersWinAndAreKeptInOrder) {
  auto in = basic();
  in.headers = {"X-Test: 1", "date: Mon, 1 Jan 2024 00:00:00 +0000", "Message-Id: <mine@x>",
                "Subject: other"};
  const std::string m = compose_message(in);
  EXPECT_EQ(m.find("Date: Tue"), std::string::npos);
  EXPECT_EQ(m.find("<1.abc@client.test>"), std::string::npos);
  EXPECT_EQ(m.find("Subject: hello"), std::string::npos);
  EXPECT_NE(m.find("X-Test: 1\ndate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-Id: <mine@x>\n"
                   "Subject: other\n\n"),
            std::string::npos);
}

TEST(MimeCompose, LongRecipientListIsFolded) {
  auto in = basic();
  in.to.clear();
  for (int i = 0; i < 8; ++i) in.to.push_back("recipient" + std::to_string(i) + "@example.net");
  const std::string m = compose_message(in);
  const auto start = m.find("To:");
  const auto end = m.find("\nSubject:");
  const std::string to = m.substr(start, end - start);
  std::size_t line = 0;
  for (char c : to) {
    line = c == '\n' ? 0 : line + 1;
    EXPECT_LE(line, 78u);
  }
  EXPECT_NE(to.find(",\n recipient"), std::string::npos);
}

TEST(MimeCompose, EightBitBodyIsBase64AndSubjectEncodedWords) {
  auto in = basic();
  in.body = "Grüße\n";
  in.subject = "Grüße aus Köln, eine etwas längere Betreffzeile mit Umlauten äöü";
  const std::string m = compose_message(in);
  EXPECT_NE(m.find("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: base64\n\n" +
                   smtp::base64_encode("Grüße\n") + "\n"),
            std::string::npos);
  EXPECT_NE(m.find("Subject: =?UTF-8?B?"), std::string::npos);
  for (char c : m) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << m;
  // Each encoded word decodes to whole UTF-8 sequences, and together to the subject.
  std::string subject;
  for (auto p = m.find("=?UTF-8?B?"); p != std::string::npos; p = m.find("=?UTF-8?B?", p)) {
    const auto e = m.find("?=", p + 10);
    auto d = smtp::base64_decode(m.substr(p + 10, e - p - 10));
    ASSERT_TRUE(d);
    // A word never starts inside a UTF-8 sequence (so the previous one did not end inside it).
    EXPECT_NE((static_cast<unsigned char>(d->front()) & 0xC0), 0x80u);
    EXPECT_LE(e + 2 - p, 75u);
    subject += *d;
    p = e;
  }
  EXPECT_EQ(subject, in.subject);
}

TEST(MimeCompose, OverlongLineIsEncoded) {
  auto in = basic();
  in.body = std::string(1200, 'x');
  EXPECT_NE(compose_message(in).find("Content-Transfer-Encoding: base64"), std::string::npos);
}

TEST(MimeCompose, UserContentTypeLeavesTheBodyAlone) {
  auto in = basic();
  in.body = "Grüße\n";
  in.headers = {"Content-Type: text/plain; charset=utf-8"};
  EXPECT_NE(compose_message(in).find("\n\nGrüße\n"), std::string::npos);
}

TEST(MimeCompose, AttachmentsMakeMultipartMixed) {
  auto in = basic();
  in.attachments.push_back({"report \"q1\".pdf", "application/pdf", std::string("%PDF\0\xff", 6)});
  const std::string m = compose_message(in);
  EXPECT_NE(m.find("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"=_b\"\n\n"),
            std::string::npos);
  EXPECT_NE(m.find("\n--=_b\nContent-Type: text/plain; charset=us-ascii\n\nline one\nline two\n"),
            std::string::npos);
  EXPECT_NE(m.find("\n--=_b\nContent-Type: application/pdf; name=\"report _q1_.pdf\"\n"
                   "Content-Disposition: attachment; filename=\"report _q1_.pdf\"\n"
                   "Content-Transfer-Encoding: base64\n\n" +
                   smtp::base64_encode(std::string("%PDF\0\xff", 6)) + "\n"),
            std::string::npos);
  EXPECT_EQ(m.substr(m.size() - 9), "\n--=_b--\n");
}

TEST(MimeCompose, Base64LinesAre76Characters) {
  const std::string data(200, 'a');
  const std::string b = base64_lines(data);
  std::size_t line = 0;
  for (char c : b) {
    if (c == '\n') {
      EXPECT_LE(line, 76u);
      line = 0;
    } else {
      ++line;
    }
  }
  EXPECT_EQ(b.substr(0, 77), smtp::base64_encode(data).substr(0, 76) + "\n");
  EXPECT_EQ(base64_lines(""), "");
}

TEST(MimeCompose, ContentTypeFromTheExtension) {
  EXPECT_EQ(content_type_for("/tmp/a.PDF"), "application/pdf");
  EXPECT_EQ(content_type_for("x.tar.gz"), "application/gzip");
  EXPECT_EQ(content_type_for("photo.jpeg"), "image/jpeg");
  EXPECT_EQ(content_type_for("notes.txt"), "text/plain");
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
  EXPECT_EQ(content_type_for(".bashrc"), "application/octet-stream");
  EXPECT_EQ(content_type_for("dir.d/file"), "application/octet-stream");
  EXPECT_EQ(content_type_for("a.unknownext"), "application/octet-stream");
}

TEST(MimeCompose, StoredForm) {
  EXPECT_EQ(to_stored_form("a\r\nb\rc\nd"), "a\nb\nc\nd\n");
  EXPECT_EQ(to_stored_form(""), "");
  EXPECT_EQ(to_stored_form("x\n"), "x\n");
}

TEST(MimeCompose, HeaderCheck) {
  EXPECT_EQ(check_header("X-Mailer: taube").value(), "X-Mailer");
  EXPECT_FALSE(check_header("no colon"));
  EXPECT_FALSE(check_header(": empty name"));
  EXPECT_FALSE(check_header("Bad Name: x"));
  EXPECT_FALSE(check_header("X: a\r\nBcc: evil@x"));
}

TEST(MimeCompose, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(2025, 3, 4, 9, 5, 0, 2, 3600), "Tue, 04 Mar 2025 09:05:00 +0100");
  EXPECT_EQ(rfc5322_date(2024, 12, 31, 23, 59, 60, 2, -(3 * 3600 + 1800)),
            "Tue, 31 Dec 2024 23:59:60 -0330");
}

}  // namespace
}  // namespace taube::app
