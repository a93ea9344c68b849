// LogOutput: where the log lines go and in which shape (docs/logging.md).
//
// One spdlog logger per Postfix program name ("taube/smtpd", "taube/smtp", ...), all writing to
// one sink, so that every line carries the tag of the Postfix program it imitates: pflogsumm
// (--syslog-name=taube) and fail2ban's Postfix regexes key on that name. The sink writes
//   - stderr (the default; journald adds its own timestamp and identifier): the look Taube always
//     had, "2026-05-01T12:00:00.123 info connect from unknown[192.0.2.1]";
//   - a file, in syslog's shape "May  1 12:00:00 host taube/smtpd[1234]: connect from ...", so
//     that pflogsumm and fail2ban read it as they read /var/log/mail.log; reopened on SIGUSR1
//     after logrotate has moved it;
//   - syslog(3), facility mail, ident "taube/<program>" (the ident changes with the line).
// format = "json" writes one object per line instead, with the event's fields (LogFields).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <tl/expected.hpp>

namespace taube::app {

// The Postfix programs whose lines Taube writes (docs/logging.md lists which line gets which).
enum class LogTag {
  Master,
  Smtpd,
  Smtp,
  Lmtp,
  Qmgr,
  Bounce,
  Local,
  Cleanup,
  Postsuper,
  Postqueue,
  Pickup  // local submissions (taube sendmail, net/submit_server.hpp)
};
inline constexpr std::size_t kLogTags = 11;
std::string_view tag_name(LogTag t);  // "taube/smtpd"

enum class LogFormat { Text, Json };

struct LogConfig {
  std::string output = "stderr";  // "stderr", "syslog", or a file path
  LogFormat format = LogFormat::Text;
};

// The structured side of one log line (format = "json"): the event's name and its fields, in
// order. Filled by the LogObserver only when the output is json (text output does not pay for
// it). Values are JSON strings unless added as numbers.
class LogFields {
 public:
  explicit LogFields(bool enabled, std::string_view event = {})
      : enabled_(enabled), event_(event) {}
  bool enabled() const { return enabled_; }
  std::string_view event() const { return event_; }
  LogFields& str(std::string_view key, std::string_view value);
  LogFields& num(std::string_view key, double value);
  LogFields& num(std::string_view key, std::uint64_t value);
  // The fields as JSON members without braces: "\"to\":\"a@b\",\"delay\":1.5".
  const std::string& members() const { return members_; }

 private:
  bool enabled_;
  std::string_view event_;
  std::string members_;
};

// JSON string escaping (text/json.hpp: valid UTF-8 kept, invalid bytes as \u00XX).
std::string json_escape(std::string_view s);

class LogSink;

class LogOutput {
 public:
  // Opens the output (a file is created if missing, appended to otherwise) and installs the
  // loggers, the Master one as spdlog's default.
  static tl::expected<std::unique_ptr<LogOutput>, std::string> open(const LogConfig& cfg,
                                                                    const std::string& level);
  ~LogOutput();

  bool json() const { return json_; }
  spdlog::logger& logger(LogTag t) { return *loggers_[static_cast<std::size_t>(t)]; }

  // One line with its tag; `fields` (when enabled) becomes the json object's members.
  void write(LogTag t, spdlog::level::level_enum level, const LogFields& fields,
             std::string_view text);

  // Reopens the file (SIGUSR1, after logrotate renamed it); a no-op for stderr and syslog.
  // On failure the old file stays in use and the error says why.
  tl::expected<void, std::string> reopen();

  const std::string& file() const;  // "" unless the output is a file

  // A reload's new level, for every tag.
  void set_level(const std::string& level);

 private:
  LogOutput() = default;
  bool json_ = false;
  std::shared_ptr<LogSink> sink_;
  std::vector<std::shared_ptr<spdlog::logger>> loggers_;
};

// Reads the [log] keys' values: "stderr" | "syslog" | a path, "text" | "json".
tl::expected<LogFormat, std::string> parse_log_format(std::string_view s);

}  // namespace taube::app
