#include "app/log_output.hpp"

#include "text/json.hpp"

#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <ctime>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace taube::app {

namespace {

// Null-terminated and static: syslog(3) keeps the ident pointer given to openlog().
constexpr std::array<const char*, kLogTags> kTagNames = {
    "taube/master",    "taube/smtpd",     "taube/smtp",   "taube/lmtp",
    "taube/qmgr",      "taube/bounce",    "taube/local",  "taube/cleanup",
    "taube/postsuper", "taube/postqueue", "taube/pickup",
};

// The fields of the line being written, set by LogOutput::write around the logger call (spdlog
// loggers here are synchronous: the sink runs on the caller's thread, inside that call). Lines
// from plain spdlog calls (main, the server's notes) have none.
thread_local const LogFields* current_fields = nullptr;

int syslog_priority(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LOG_DEBUG;
    case spdlog::level::info:
      return LOG_INFO;
    case spdlog::level::warn:
      return LOG_WARNING;
    case spdlog::level::err:
      return LOG_ERR;
    default:
      return LOG_CRIT;
  }
}

const char* ident_for(std::string_view logger_name) {
  for (const char* t : kTagNames)
    if (logger_name == t) return t;
  return "taube";
}

std::string short_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  std::string h = buf;
  // As syslogd writes it: the first label (rsyslog's default, $PreserveFQDN off).
  if (auto dot = h.find('.'); dot != std::string::npos && dot > 0) h.resize(dot);
  return h;
}

}  // namespace

std::string_view tag_name(LogTag t) {
  return kTagNames[static_cast<std::size_t>(t)];
}

std::string json_escape(std::string_view s) {
  return text::json_escape(s);
}

LogFields& LogFields::str(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  if (!members_.empty()) members_ += ',';
  members_ += '"';
  members_ += key;
  members_ += "\":\"";
  members_ += json_escape(value);
  members_ += '"';
  return *this;
}

LogFields& LogFields::num(std::string_view key, double value) {
  if (!enabled_) return *this;
  if (!members_.empty()) members_ += ',';
  // JSON has no NaN or infinity; delays are finite, but never write invalid JSON.
  members_ += fmt::format("\"{}\":{}", key, std::isfinite(value) ? value : 0.0);
  return *this;
}

LogFields& LogFields::num(std::string_view key, std::uint64_t value) {
  if (!enabled_) return *this;
  if (!members_.empty()) members_ += ',';
  members_ += fmt::format("\"{}\":{}", key, value);
  return *this;
}

// The one sink every logger writes to. It formats the line itself (the three shapes differ in
// more than a pattern: syslog's ident changes per line, json takes the event's fields) and hands
// the finished line to spdlog's own stderr or file sink, or to syslog(3).
class LogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  enum class Kind { Stderr, File, Syslog };

  LogSink(Kind kind, std::string path, bool json)
      : kind_(kind), path_(std::move(path)), json_(json), host_(short_hostname()), pid_(getpid()) {
    if (kind_ == Kind::Stderr) inner_ = std::make_shared<spdlog::sinks::stderr_sink_st>();
    if (kind_ == Kind::File) inner_ = std::make_shared<spdlog::sinks::basic_file_sink_st>(path_);
    if (inner_) inner_->set_pattern("%v");
  }
  ~LogSink() override {
    if (kind_ == Kind::Syslog) ::closelog();
  }

  const std::string& path() const { return path_; }

  tl::expected<void, std::string> reopen() {
    if (kind_ != Kind::File) return {};
    std::lock_guard lock(mutex_);
    try {
      // A new file sink opens the path afresh (append, created if logrotate moved it away).
      auto fresh = std::make_shared<spdlog::sinks::basic_file_sink_st>(path_);
      fresh->set_pattern("%v");
      inner_->flush();
      inner_ = std::move(fresh);
    } catch (const spdlog::spdlog_ex& e) {
      return tl::unexpected(std::string(e.what()));
    }
    return {};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line = json_ ? json_line(msg, name, text) : text_line(msg, name, text);
    if (kind_ == Kind::Syslog) {
      // One ident per line: openlog() only swaps the pointer (the socket stays open).
      const char* ident = ident_for(name);
      if (ident != ident_) {
        ::openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
        ident_ = ident;
      }
      ::syslog(syslog_priority(msg.level), "%s", line.c_str());
      return;
    }
    // spdlog's pattern formatter ("%v") adds the end of line.
    spdlog::details::log_msg out(msg.time, msg.source, msg.logger_name, msg.level, line);
    inner_->log(out);
    // Readers tail the file (fail2ban, a test): every line reaches it at once, as syslogd's do.
    if (kind_ == Kind::File) inner_->flush();
  }
  void flush_() override {
    if (inner_) inner_->flush();
  }

 private:
  std::string text_line(const spdlog::details::log_msg& msg, std::string_view name,
                        std::string_view text) const {
    const auto t = spdlog::log_clock::to_time_t(msg.time);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char stamp[40];
    if (kind_ == Kind::File) {
      // syslog's (RFC 3164) "Mmm dd hh:mm:ss host tag[pid]: " with a space-padded day.
      std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
      return fmt::format("{} {} {}[{}]: {}", stamp, host_, name, pid_, text);
    }
    if (kind_ == Kind::Syslog) return std::string(text);
    // stderr: the look Taube always had (journald adds the time and "taube[pid]" itself).
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() %
        1000;
    const auto level = spdlog::level::to_string_view(msg.level);
    return fmt::format("{}.{:03d} {} {}", stamp, ms, std::string_view(level.data(), level.size()),
                       text);
  }

  std::string json_line(const spdlog::details::log_msg& msg, std::string_view name,
                        std::string_view text) const {
    const auto t = spdlog::log_clock::to_time_t(msg.time);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[40];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() %
        1000;
    const auto level = spdlog::level::to_string_view(msg.level);
    const LogFields* f = current_fields;
    std::string line = fmt::format(
        "{{\"time\":\"{}.{:03d}Z\",\"host\":\"{}\",\"tag\":\"{}\",\"pid\":{},\"level\":\"{}\","
        "\"event\":\"{}\"",
        stamp, ms, json_escape(host_), name, pid_, std::string_view(level.data(), level.size()),
        f && !f->event().empty() ? f->event() : std::string_view("message"));
    if (f && !f->members().empty()) {
      line += ',';
      line += f->members();
    }
    line += ",\"text\":\"" + json_escape(text) + "\"}";
    return line;
  }

  Kind kind_;
  std::string path_;
  bool json_;
  std::string host_;
  int pid_;
  std::shared_ptr<spdlog::sinks::sink> inner_;
  const char* ident_ = nullptr;
};

tl::expected<LogFormat, std::string> parse_log_format(std::string_view s) {
  if (s == "text") return LogFormat::Text;
  if (s == "json") return LogFormat::Json;
  return tl::unexpected(std::string("must be \"text\" or \"json\""));
}

tl::expected<std::unique_ptr<LogOutput>, std::string> LogOutput::open(const LogConfig& cfg,
                                                                      const std::string& level) {
  std::unique_ptr<LogOutput> out(new LogOutput());
  out->json_ = cfg.format == LogFormat::Json;
  const auto kind = cfg.output == "stderr"   ? LogSink::Kind::Stderr
                    : cfg.output == "syslog" ? LogSink::Kind::Syslog
                                             : LogSink::Kind::File;
  try {
    out->sink_ =
        std::make_shared<LogSink>(kind, kind == LogSink::Kind::File ? cfg.output : "", out->json_);
  } catch (const spdlog::spdlog_ex& e) {
    return tl::unexpected("log output " + cfg.output + ": " + e.what());
  }
  const auto lvl = spdlog::level::from_str(level);
  for (const char* name : kTagNames) {
    auto l = std::make_shared<spdlog::logger>(name, out->sink_);
    l->set_level(lvl);
    out->loggers_.push_back(std::move(l));
  }
  spdlog::set_default_logger(out->loggers_[static_cast<std::size_t>(LogTag::Master)]);
  spdlog::set_level(lvl);
  return out;
}

void LogOutput::set_level(const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  for (auto& l : loggers_) l->set_level(lvl);
  spdlog::set_level(lvl);
}

LogOutput::~LogOutput() {
  // Lines after this (static destructors, a late error) go to stderr, not to a closed sink.
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("taube", std::make_shared<spdlog::sinks::stderr_sink_st>()));
}

void LogOutput::write(LogTag t, spdlog::level::level_enum level, const LogFields& fields,
                      std::string_view text) {
  auto& l = logger(t);
  if (!l.should_log(level)) return;
  current_fields = &fields;
  l.log(level, "{}", text);
  current_fields = nullptr;
}

tl::expected<void, std::string> LogOutput::reopen() {
  return sink_->reopen();
}

const std::string& LogOutput::file() const {
  return sink_->path();
}

}  // namespace taube::app
