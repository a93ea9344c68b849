#include "app/mime_compose.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "smtp/wire/ascii.hpp"
#include "smtp/wire/base64.hpp"

namespace taube::app {

namespace {

bool eight_bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// RFC 5322 §2.1.1: a line is at most 998 characters; text over it (or 8-bit text, which a peer
// without 8BITMIME must not be sent: RFC 6152) goes base64-encoded.
bool needs_encoding(std::string_view stored) {
  if (eight_bit(stored)) return true;
  std::size_t start = 0;
  while (start < stored.size()) {
    auto nl = stored.find('\n', start);
    if (nl == std::string_view::npos) nl = stored.size();
    if (nl - start > 998) return true;
    start = nl + 1;
  }
  return false;
}

std::string field_name_lower(std::string_view header) {
  return smtp::ascii_lower(header.substr(0, header.find(':')));
}

// Addresses joined by ", ", folded (RFC 5322 §2.2.3) before a line would pass 78 characters.
std::string address_list(std::string_view name, const std::vector<std::string>& addrs) {
  std::string out(name);
  out += ":";
  std::size_t line = out.size();
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    const std::string item = addrs[i] + (i + 1 < addrs.size() ? "," : "");
    if (i > 0 && line + 1 + item.size() > 78) {
      out += "\n";
      line = 0;
    }
    out += " " + item;
    line += 1 + item.size();
  }
  return out + "\n";
}

// RFC 2047 §4.1 "B" encoded-words for a non-ASCII Subject, each at most 75 characters: 45 octets
// of input per word, never splitting a UTF-8 sequence.
std::string encoded_words(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min<std::size_t>(45, text.size() - i);
    while (i + n < text.size() && n > 1 && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80)
      --n;  // the next octet continues a sequence: end the word before its start
    if (!out.empty()) out += "\n ";
    out += "=?UTF-8?B?" + smtp::base64_encode(text.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

// A file name as a quoted-string parameter (RFC 2045 §5.1); quotes, backslashes, control and
// non-ASCII octets become '_' (RFC 2231's encoded names are not written).
std::string quoted_filename(std::string_view name) {
  std::string q = "\"";
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    q.push_back(c == '"' || c == '\\' || u < 0x20 || u >= 0x7f ? '_' : c);
  }
  return q + "\"";
}

// The body as a MIME text part's headers and content.
std::string text_part(std::string_view body, bool with_mime_version) {
  const std::string stored = to_stored_form(body);
  std::string out = with_mime_version ? "MIME-Version: 1.0\n" : "";
  if (needs_encoding(stored)) {
    out += "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n";
    out += base64_lines(stored);
  } else {
    out += "Content-Type: text/plain; charset=us-ascii\n\n" + stored;
  }
  return out;
}

}  // namespace

tl::expected<std::string, std::string> check_header(std::string_view header) {
  const auto colon = header.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return tl::unexpected("header \"" + std::string(header) + "\" is not \"Name: value\"");
  for (char c : header.substr(0, colon)) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f)
      return tl::unexpected("header \"" + std::string(header) +
                            "\": the field name must be printable ASCII without spaces");
  }
  if (header.find_first_of("\r\n") != std::string_view::npos)
    return tl::unexpected("header \"" + std::string(header.substr(0, colon)) +
                          "\": the value must be one line");
  return std::string(header.substr(0, colon));
}

std::string compose_message(const ComposeInput& in) {
  auto given = [&](std::string_view name) {
    return std::any_of(in.headers.begin(), in.headers.end(),
                       [&](const std::string& h) { return field_name_lower(h) == name; });
  };
  std::string out;
  if (!given("date")) out += "Date: " + in.date + "\n";
  if (!given("from")) out += "From: " + in.from + "\n";
  if (!given("to") && !in.to.empty()) out += address_list("To", in.to);
  if (!given("subject") && !in.subject.empty())
    out += "Subject: " + (eight_bit(in.subject) ? encoded_words(in.subject) : in.subject) + "\n";
  if (!given("message-id")) out += "Message-ID: " + in.message_id + "\n";
  for (const auto& h : in.headers) out += h + "\n";

  if (in.attachments.empty()) {
    const std::string stored = to_stored_form(in.body);
    // The user's own MIME headers describe the body as it is.
    if (given("content-type") || !needs_encoding(stored)) return out + "\n" + stored;
    return out + text_part(in.body, !given("mime-version"));
  }
  // RFC 2046 §5.1.1: the boundary delimiter lines, a preamble-free multipart/mixed.
  if (!given("mime-version")) out += "MIME-Version: 1.0\n";
  out += "Content-Type: multipart/mixed; boundary=\"" + in.boundary + "\"\n\n";
  out += "This is a multi-part message in MIME format.\n";
  if (!in.body.empty()) out += "\n--" + in.boundary + "\n" + text_part(in.body, false);
  for (const auto& a : in.attachments) {
    out += "\n--" + in.boundary + "\n";
    out += "Content-Type: " + a.content_type + "; name=" + quoted_filename(a.filename) + "\n";
    out += "Content-Disposition: attachment; filename=" + quoted_filename(a.filename) + "\n";
    out += "Content-Transfer-Encoding: base64\n\n";
    out += base64_lines(a.data);
  }
  return out + "\n--" + in.boundary + "--\n";
}

std::string content_type_for(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24> kTypes{{
      {"txt", "text/plain"},
      {"text", "text/plain"},
      {"log", "text/plain"},
      {"csv", "text/csv"},
      {"html", "text/html"},
      {"htm", "text/html"},
      {"md", "text/markdown"},
      {"xml", "application/xml"},
      {"json", "application/json"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"gz", "application/gzip"},
      {"tar", "application/x-tar"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"svg", "image/svg+xml"},
      {"webp", "image/webp"},
      {"ics", "text/calendar"},
      {"eml", "message/rfc822"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  }};
  const auto slash = filename.find_last_of('/');
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  const auto dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
  const std::string ext = smtp::ascii_lower(filename.substr(dot + 1));
  for (const auto& [e, type] : kTypes)
    if (e == ext) return std::string(type);
  return "application/octet-stream";
}

std::string base64_lines(std::string_view data) {
  const std::string b64 = smtp::base64_encode(data);
  std::string out;
  out.reserve(b64.size() + b64.size() / 76 + 1);
  for (std::size_t i = 0; i < b64.size(); i += 76) out.append(b64, i, 76).push_back('\n');
  return out;
}

std::string to_stored_form(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

std::string rfc5322_date(int year, int month, int day, int hour, int minute, int second,
                         int weekday, long utc_offset_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const char sign = utc_offset_seconds < 0 ? '-' : '+';
  const long off = (utc_offset_seconds < 0 ? -utc_offset_seconds : utc_offset_seconds) / 60;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
                kDays[((weekday % 7) + 7) % 7], day, kMonths[((month - 1) % 12 + 12) % 12], year,
                hour, minute, second, sign, off / 60, off % 60);
  return buf;
}

}  // namespace taube::app
