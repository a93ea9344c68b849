// The message `taube send` composes (docs/send.md): RFC 5322 headers, a text body, and MIME
// attachments (RFC 2045/2046 multipart/mixed, base64). Pure: the date, the Message-ID and the
// boundary are passed in, files are read by the caller. The result is in the stored form the
// client session takes (LF line endings, no dot-stuffing: smtp/client/client_session.hpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace taube::app {

struct Attachment {
  std::string filename;      // the name shown to the recipient (no directory)
  std::string content_type;  // "application/pdf"
  std::string data;          // the file's octets
};

struct ComposeInput {
  std::string from;                     // the From: header's value, "a@example.org"
  std::vector<std::string> to;          // the To: header's addresses (the envelope recipients)
  std::string subject;                  // empty: no Subject header
  std::vector<std::string> headers;     // "Name: value", as given (--header), in order
  std::string body;                     // text, any line endings
  std::vector<Attachment> attachments;  // none: a single-part message
  std::string date;                     // RFC 5322 §3.3 date-time, used when no Date header
  std::string message_id;               // "<...@host>", used when no Message-ID header
  std::string boundary;                 // multipart boundary (must not occur in the content)
};

// A header given by the user: "Name: value" with a field name of printable ASCII without ':'
// or space (RFC 5322 §3.6.8) and a value without CR or LF. Returns the field name.
tl::expected<std::string, std::string> check_header(std::string_view header);

// The composed message in stored form. Headers the user gave win: From, To, Subject, Date and
// Message-ID are added only when missing (RFC 5322 §3.6 requires Date and From, and says a
// Message-ID SHOULD be present).
std::string compose_message(const ComposeInput& in);

// The content type for a file name, from a small table of extensions; otherwise
// "application/octet-stream".
std::string content_type_for(std::string_view filename);

// Lines of at most 76 characters (RFC 2045 §6.8), each ending in LF.
std::string base64_lines(std::string_view data);

// Any line ending (CRLF, CR, LF) made LF; a missing final newline added.
std::string to_stored_form(std::string_view text);

// An RFC 5322 §3.3 date from a broken-down time and its offset from UTC in seconds:
// "Tue, 04 Mar 2025 09:05:00 +0100". Month and day names in English, whatever the locale.
std::string rfc5322_date(int year, int month, int day, int hour, int minute, int second,
                         int weekday, long utc_offset_seconds);

}  // namespace taube::app
