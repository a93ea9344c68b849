// The message `taube sendmail` reads on standard input, made fit for submission
// (docs/sendmail.md), as Postfix's sendmail and cleanup do for local mail:
//   - InputReader: LF, CRLF and a lone CR all end a line (a bare CR or LF must never reach the
//     server, which refuses them: RFC 5321 §2.3.8); without -i a line "." ends the input.
//     Incremental: the lines do not depend on how the input was cut.
//   - split_message: the header section (with its folded continuation lines) and the body; a
//     leading mbox "From " line is dropped; input without headers is all body.
//   - header_recipients: the addresses of To, Cc and Bcc (or of Resent-To/-Cc/-Bcc when the
//     message has Resent- fields: RFC 5322 §3.6.6), for -t; RFC 5322 §3.4 address lists with
//     display names, comments, quoted strings and groups.
//   - prepare_message: Bcc fields removed, the missing From, Date, Message-ID (and To:
//     undisclosed-recipients:;) added at the end of the header section, lines longer than
//     RFC 5322 §2.1.1's 998 octets broken, the result in the stored form the client session
//     sends (LF line endings, not dot-stuffed: smtp/client/client_session.hpp).
// Pure: the date, the Message-ID and the names are passed in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace taube::app {

class InputReader {
 public:
  explicit InputReader(bool dot_ends_input) : dot_ends_(dot_ends_input) {}
  // Takes a piece of input. After the "." line (ended()) the rest is not read.
  void feed(std::string_view chunk);
  // The end of the input: a last line without a line ending is still a line.
  void finish();
  bool ended() const { return ended_; }
  // The lines so far, without their endings.
  const std::vector<std::string>& lines() const { return lines_; }
  std::vector<std::string> take_lines() { return std::move(lines_); }

 private:
  void end_line();
  bool dot_ends_;
  bool ended_ = false;
  bool after_cr_ = false;  // the last octet was a CR: a following LF belongs to it
  std::string line_;
  std::vector<std::string> lines_;
};

struct HeaderField {
  std::string name;                // as written ("Subject")
  std::vector<std::string> lines;  // the field's lines: "Subject: hi", then continuations
  // The value unfolded (RFC 5322 §2.2.3): the text after the colon, the line breaks removed.
  std::string value() const;
};

struct ParsedMessage {
  std::vector<HeaderField> headers;
  std::vector<std::string> body;
};

ParsedMessage split_message(std::vector<std::string> lines);

// The addr-specs of an address list, in order ("Bob <bob@x>, (c) carol@y, team: d@z;" gives
// bob@x, carol@y, d@z). An entry that is not an address (no '@' and no local part) is skipped;
// a bare local part ("root") is returned as it is for the caller to qualify.
std::vector<std::string> parse_address_list(std::string_view value);

// -t: the recipients in the message's To, Cc and Bcc fields (or Resent-To, Resent-Cc and
// Resent-Bcc if there is any Resent- field).
std::vector<std::string> header_recipients(const ParsedMessage& m);

struct PrepareInput {
  std::string from;        // the From: value to add when there is none ("Name <a@b>")
  std::string date;        // RFC 5322 §3.3 date-time for a missing Date:
  std::string message_id;  // "<...@host>" for a missing Message-ID:
};

struct PreparedMessage {
  std::string content;             // stored form: LF line endings
  bool eight_bit = false;          // an octet >= 0x80 somewhere (BODY=8BITMIME)
  std::vector<std::string> added;  // names of the fields added ("Date", ...)
  bool bcc_removed = false;
};

// RFC 5322 §2.1.1: at most 998 octets per line. Longer header lines are folded at a space or
// tab when there is one, else broken with a continuation; body lines are broken.
PreparedMessage prepare_message(const ParsedMessage& m, const PrepareInput& in);

// The From: value for a full name and an address: the name as a phrase when it is atoms and
// spaces, a quoted string otherwise, RFC 2047 encoded-words (UTF-8, base64) when it has octets
// above 0x7e; the bare address when the name is empty.
std::string from_value(std::string_view full_name, std::string_view address);

}  // namespace taube::app
