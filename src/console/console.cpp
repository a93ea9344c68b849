#include "console/console.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "console/request_parse.hpp"
#include "console/web_assets.hpp"
#include "inet/ip_address.hpp"
#include "net/blocking_pool.hpp"
#include "net/transport.hpp"
#include "queue/listing.hpp"
#include "smtp/wire/command_parser.hpp"
#include "store/user_db.hpp"

namespace taube::console {

namespace {

constexpr const char* kCookie = "taube_session";
constexpr std::size_t kMaxLoginsAtOnce = 4;  // yescrypt checks on the pool at the same time
constexpr std::size_t kMaxUserLength = 256;
constexpr std::size_t kMaxPasswordLength = 1024;

std::string cookie_value(const net::HttpRequest& req) {
  const std::string* h = req.header("Cookie");
  if (!h) return {};
  auto cookies = parse_cookies(*h);
  auto it = cookies.find(kCookie);
  return it == cookies.end() ? std::string() : it->second;
}

bool is_json(const net::HttpRequest& req) {
  const std::string* ct = req.header("Content-Type");
  if (!ct) return false;
  const std::string v = smtp::ascii_lower(*ct);
  return v == "application/json" || v.starts_with("application/json;");
}

net::HttpResponse redirect(const std::string& to) {
  net::HttpResponse r;
  r.status = 303;
  r.headers.emplace_back("Location", to);
  r.body = "see " + to + "\n";
  return r;
}

net::HttpResponse not_allowed(const std::string& allow) {
  auto r = json_error(405, "method not allowed here (allowed: " + allow + ")");
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace

net::HttpResponse json_response(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.body += '\n';
  // A JSON answer is never a page: no sniffing, no framing.
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

net::HttpResponse json_error(int status, const std::string& message) {
  return json_response(status, "{\"error\": " + queue::json_quote(message) + "}");
}

Console::Console(asio::io_context& io, net::Server& server, const ConsoleConfig& config,
                 std::shared_ptr<LogFeed> feed)
    : io_(io),
      server_(server),
      cfg_(config),
      feed_(std::move(feed)),
      sessions_(config.sessions),
      throttle_(config.login_throttle) {}

Console::~Console() = default;

tl::expected<void, std::string> Console::attach() {
  if (cfg_.listen) {
    own_cfg_ = *cfg_.listen;
    if (cfg_.tls) own_cfg_.tls = [this] { return server_.credentials().tls; };
    own_ = std::make_unique<net::HttpServer>(io_, own_cfg_);
    http_ = own_.get();
    // Its own listener: the root leads to the pages.
    http_->route("/", [](const Request&) { return redirect("/console/"); });
  } else {
    http_ = server_.http();
    if (!http_)
      return tl::unexpected(std::string(
          "console: no HTTP listener: set [console] listen or [metrics] listen (docs/console.md)"));
  }
  http_->route("/console", [](const Request&) { return redirect("/console/"); });
  http_->route_prefix("/console/", [this](const Request& r) { return handle(r); });
  http_->route_prefix("/api/", [this](const Request& r) { return handle(r); });
  server_.observe(*this);
  return {};
}

tl::expected<void, std::string> Console::listen() {
  asio::ip::tcp::endpoint ep;
  if (own_) {
    if (cfg_.tls && !server_.credentials().tls)
      return tl::unexpected(std::string("console.tls: the server has no TLS certificate ([tls])"));
    auto bound = own_->bind();
    if (!bound) return tl::unexpected(bound.error());
    ep = *bound;
  } else {
    ep = server_.http_endpoint();
  }
  const std::string shown =
      ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
  spdlog::info("console: serving {}://{}:{}/console/", own_ && cfg_.tls ? "https" : "http", shown,
               ep.port());
  return {};
}

void Console::start() {
  if (own_) own_->start();
}

void Console::stop() {
  stopping_ = true;
  if (own_) own_->stop();
}

void Console::connected(const events::Connected&) {
  ++inbound_;
  activity_.add(Activity::SessionsIn, std::time(nullptr));
}

void Console::tls_established(const events::TlsEstablished&) {
  ++inbound_tls_;
  activity_.add(Activity::TlsIn, std::time(nullptr));
}

// Only connections that opened count: a failed opening is a destination's health (deferrals),
// not a plaintext session.
void Console::outbound_opened(const events::OutboundOpened& e) {
  if (e.result != "ok") return;
  const std::int64_t now = std::time(nullptr);
  ++outbound_opened_;
  activity_.add(Activity::OpenedOut, now);
  if (!e.tls_version.empty()) {
    ++outbound_tls_;
    activity_.add(Activity::TlsOut, now);
  }
}

void Console::rejected(const events::Rejected& e) {
  activity_.add(Activity::Rejected, std::time(nullptr));
  ++rejects_[std::string(smtp::verb_name(e.verb)) + " " + std::to_string(e.reply.code)];
  reasons_.add(smtp::verb_name(e.verb), e.reply);
}

void Console::transaction(const events::Transaction& e) {
  if (e.accepted) activity_.add(Activity::Received, std::time(nullptr));
}

void Console::delivery(const events::Delivery& e) {
  const std::int64_t now = std::time(nullptr);
  if (e.status == "sent") activity_.add(Activity::Delivered, now);
  if (e.status == "deferred") activity_.add(Activity::Deferred, now);
  if (e.status == "bounced" || e.status == "expired") activity_.add(Activity::Bounced, now);
}

asio::awaitable<net::HttpResponse> Console::handle(const Request& req) {
  if (req.path.starts_with("/console/")) co_return page(req);
  if (!req.path.starts_with("/api/v1/")) co_return json_error(404, "not found: " + req.path);
  Response r = co_await api(req);
  co_return r;
}

net::HttpResponse Console::page(const Request& req) const {
  if (req.method != "GET" && req.method != "HEAD") return not_allowed("GET, HEAD");
  std::string name = req.path.substr(std::string_view("/console/").size());
  if (name.empty()) name = "index.html";
  const WebAsset* a = find_web_asset(name);
  if (!a) return json_error(404, "not found: " + req.path);
  Response r;
  r.content_type = std::string(a->content_type);
  r.body = std::string(a->data);
  // The pages load only their own scripts and styles, and no one may frame them (clickjacking
  // of the action buttons).
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                         "form-action 'self'; base-uri 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  return r;
}

asio::awaitable<net::HttpResponse> Console::api(const Request& req) {
  const std::string path = req.path.substr(std::string_view("/api/v1").size());
  if (path == "/login") {
    if (req.method != "POST") co_return not_allowed("POST");
    Response r = co_await login(req);
    co_return r;
  }
  const std::string token = cookie_value(req);
  const auto now = SessionStore::Clock::now();
  const SessionStore::Session* s = sessions_.find(token, now);
  if (!s) co_return json_error(401, "not logged in");
  const std::string who = s->user + " from " + req.peer;  // for the audit lines
  const bool post = req.method == "POST";
  if (post) {
    // RFC 6265bis SameSite=Strict keeps the cookie off other sites' requests already; the token
    // also stops a request from a page of ours that another user could have shaped.
    const std::string* csrf = req.header("X-CSRF-Token");
    if (!csrf || !SessionStore::csrf_matches(*s, *csrf))
      co_return json_error(403, "missing or wrong X-CSRF-Token");
    if (!req.body.empty() && !is_json(req))
      co_return json_error(415, "the body must be application/json");
  } else if (req.method != "GET" && req.method != "HEAD") {
    co_return not_allowed("GET, POST");
  }
  if (path == "/session") {
    if (post) co_return not_allowed("GET");
    co_return json_response(
        200, "{\"user\": " + queue::json_quote(s->user) +
                 ", \"csrf_token\": " + queue::json_quote(s->csrf) +
                 ", \"expires_in\": " + std::to_string(sessions_.remaining(*s, now)) + "}");
  }
  if (path == "/logout") {
    if (!post) co_return not_allowed("POST");
    sessions_.remove(token);
    spdlog::info("console: {} logged out", who);
    Response r = json_response(200, "{\"logged_out\": true}");
    r.headers.emplace_back("Set-Cookie", std::string(kCookie) +
                                             "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
                                             (req.tls || cfg_.secure_cookie ? "; Secure" : ""));
    co_return r;
  }
  if (path == "/queue") {
    if (post) co_return not_allowed("GET");
    Response r = co_await queue_list(req);
    co_return r;
  }
  if (path.starts_with("/queue/")) {
    const std::string rest = path.substr(7);
    const auto slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    if (slash == std::string::npos) {
      if (post) co_return not_allowed("GET");
      Response r = co_await queue_show(id);
      co_return r;
    }
    const std::string action = rest.substr(slash + 1);
    if (action == "dsn") {
      if (post) co_return not_allowed("GET");
      Response r = co_await queue_dsn(id);
      co_return r;
    }
    if (!post) co_return not_allowed("POST");
    Response r = co_await queue_action(id, action, who);
    co_return r;
  }
  if (path == "/bulk") {
    if (!post) co_return not_allowed("POST");
    Response r = co_await bulk(req, who);
    co_return r;
  }
  if (path == "/flush") {
    if (!post) co_return not_allowed("POST");
    co_return flush(req, who);
  }
  if (path == "/overview") {
    if (post) co_return not_allowed("GET");
    Response r = co_await overview();
    co_return r;
  }
  if (path == "/destinations") {
    if (post) co_return not_allowed("GET");
    Response r = co_await destinations(req);
    co_return r;
  }
  if (path == "/deliveries" || path.starts_with("/deliveries/")) {
    if (post) co_return not_allowed("GET");
    Response r = co_await deliveries(req, path);  // console_deliveries.cpp
    co_return r;
  }
  if (path == "/log") {
    if (post) co_return not_allowed("GET");
    co_return live_log(req);
  }
  co_return json_error(404, "no such endpoint: " + req.path);
}

asio::awaitable<net::HttpResponse> Console::login(const Request& req) {
  if (!is_json(req)) co_return json_error(415, "the body must be application/json");
  auto body = parse_json_object(req.body);
  if (!body) co_return json_error(400, body.error());
  auto user = json_string(*body, "user");
  auto password = json_string(*body, "password");
  if (!user) co_return json_error(400, user.error());
  if (!password) co_return json_error(400, password.error());
  if (!*user || !*password || (*user)->empty())
    co_return json_error(400, "\"user\" and \"password\" are required");
  if ((*user)->size() > kMaxUserLength || (*password)->size() > kMaxPasswordLength)
    co_return json_error(400, "\"user\" or \"password\" is too long");
  // The name goes into log lines (fail2ban reads them): no line breaks or other controls.
  for (const char c : **user)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      co_return json_error(400, "control character in \"user\"");
  const auto client = inet::IpAddress::parse(req.peer);
  const auto now = policy::AuthThrottle::Clock::now();
  if (client && throttle_.banned(*client, now))
    co_return json_error(429, "too many failed logins from " + req.peer + "; try again later");
  if (logins_running_ >= kMaxLoginsAtOnce)
    co_return json_error(429, "too many logins at once; try again in a moment");
  struct Verdict {
    bool admin = false;
    bool mail_user = false;
    std::string error;
  };
  const std::string name = **user;
  const std::string secret = **password;
  // The users files are read at every login: a change (taube passwd) counts at once, and a
  // login is rare enough that the read costs nothing.
  auto check = [this, &name, &secret] {
    Verdict v;
    auto admins = store::UserDb::load(cfg_.users_file);
    if (!admins) {
      v.error = admins.error();
      return v;
    }
    v.admin = admins->verify(name, secret);
    if (!v.admin && !cfg_.mail_users_file.empty()) {
      if (auto mail = store::UserDb::load(cfg_.mail_users_file))
        v.mail_user = mail->verify(name, secret);
    }
    return v;
  };
  ++logins_running_;
  const Verdict v = co_await net::run_blocking(server_.pool(), check);
  --logins_running_;
  if (!v.error.empty()) {
    spdlog::error("console: cannot read the users file: {}", v.error);
    co_return json_error(500, "the console's users file cannot be read (see the log)");
  }
  if (!v.admin) {
    if (client) throttle_.failure(*client, now);
    // The shape of Postfix's SASL failure line, so that fail2ban's filters can be taught it.
    spdlog::warn("console: login failed for {} from {}{}", name, req.peer,
                 v.mail_user ? " (a mail user, not an administrator)" : "");
    if (v.mail_user) co_return json_error(403, "not a console administrator");
    co_return json_error(401, "wrong user or password");
  }
  auto created = sessions_.create(name, SessionStore::Clock::now());
  if (!created) {
    spdlog::error("console: no session for {}: {}", name, crypto::to_string(created.error()));
    co_return json_error(500, "cannot create a session (see the log)");
  }
  spdlog::info("console: {} logged in from {}", name, req.peer);
  Response r = json_response(
      200, "{\"user\": " + queue::json_quote(name) +
               ", \"csrf_token\": " + queue::json_quote(created->session.csrf) +
               ", \"expires_in\": " + std::to_string(cfg_.sessions.lifetime.count()) + "}");
  // HttpOnly: no script reads it; SameSite=Strict: no other site's request carries it
  // (RFC 6265bis §5.4.7); Secure when the page came over TLS.
  r.headers.emplace_back("Set-Cookie",
                         std::string(kCookie) + "=" + created->token +
                             "; Path=/; Max-Age=" + std::to_string(cfg_.sessions.lifetime.count()) +
                             "; HttpOnly; SameSite=Strict" +
                             (req.tls || cfg_.secure_cookie ? "; Secure" : ""));
  co_return r;
}

}  // namespace taube::console
