// The console's queue, overview and live-log endpoints (console.hpp). The queue's data and
// actions come from net::QueueRunner's administration and queue/listing, exactly what the
// control socket of `taube queue` uses (net/control_server.cpp): one implementation, two views.
#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>

#include <spdlog/spdlog.h>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "console/console.hpp"
#include "console/request_parse.hpp"
#include "net/blocking_pool.hpp"
#include "net/transport.hpp"
#include "queue/attempt.hpp"
#include "queue/listing.hpp"
#include "queue/transcript_log.hpp"

namespace taube::console {

using asio::use_awaitable;
using asio::experimental::as_tuple;

namespace {

// Bounds of the queue table's paging: enough for any queue (a million messages at 500 a
// page is 2,000 pages), small enough that a typo cannot ask for an absurd page.
constexpr std::uint64_t kMaxPage = 1'000'000;
constexpr std::uint64_t kMaxPerPage = 500;
constexpr std::uint64_t kDefaultPerPage = 50;
constexpr std::size_t kMaxFilter = 256;
constexpr std::size_t kMaxBulk = 1000;
constexpr std::size_t kMaxStreams = 8;
constexpr std::size_t kActivityMinutes = 360;

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// A queue id or a queue file name: the characters the queue writes in either.
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  // Neither starts with a dot (".." must not look like a name) nor with a sign.
  const char c0 = id.front();
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9')))
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ',' || c == ':' || c == '=' || c == '+';
  });
}

tl::expected<std::uint64_t, std::string> number(const std::string& name, const std::string& v,
                                                std::uint64_t max) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 1 || n > max)
    return tl::unexpected(name + " must be a whole number from 1 to " + std::to_string(max));
  return n;
}

const char* result_word(net::QueueRunner::AdminResult r) {
  switch (r) {
    case net::QueueRunner::AdminResult::Done:
      return "done";
    case net::QueueRunner::AdminResult::Unchanged:
      return "unchanged";
    case net::QueueRunner::AdminResult::NotFound:
      return "not_found";
    case net::QueueRunner::AdminResult::Busy:
      return "busy";
    case net::QueueRunner::AdminResult::Failed:
      return "failed";
  }
  return "failed";
}

int result_status(net::QueueRunner::AdminResult r) {
  switch (r) {
    case net::QueueRunner::AdminResult::Done:
    case net::QueueRunner::AdminResult::Unchanged:
      return 200;
    case net::QueueRunner::AdminResult::NotFound:
      return 404;
    case net::QueueRunner::AdminResult::Busy:
      return 409;
    case net::QueueRunner::AdminResult::Failed:
      return 500;
  }
  return 500;
}

bool known_action(const std::string& a) {
  return a == "hold" || a == "release" || a == "retry" || a == "bounce" || a == "delete";
}

std::string disk_json(const std::string& what, const std::string& path) {
  struct statvfs v {};
  std::string out =
      "{\"what\": " + queue::json_quote(what) + ", \"path\": " + queue::json_quote(path);
  if (!path.empty() && ::statvfs(path.c_str(), &v) == 0) {
    const auto unit = static_cast<std::uint64_t>(v.f_frsize);
    out += ", \"total_bytes\": " + std::to_string(static_cast<std::uint64_t>(v.f_blocks) * unit);
    out += ", \"free_bytes\": " + std::to_string(static_cast<std::uint64_t>(v.f_bavail) * unit);
  }
  return out + "}";
}

}  // namespace

asio::awaitable<net::HttpResponse> Console::queue_list(const Request& req) {
  net::QueueRunner* q = server_.queue();
  if (!q) co_return json_error(503, "no outbound queue (discard mode)");
  auto params = parse_query(req.query);
  if (!params) co_return json_error(400, params.error());
  std::uint64_t page = 1, per_page = kDefaultPerPage;
  queue::ListFilter f;
  std::set<std::string> seen;
  for (const auto& [k, v] : *params) {
    if (!seen.insert(k).second) co_return json_error(400, "\"" + k + "\" given twice");
    if (k == "page" || k == "per_page") {
      auto n = number(k, v, k == "page" ? kMaxPage : kMaxPerPage);
      if (!n) co_return json_error(400, n.error());
      (k == "page" ? page : per_page) = *n;
      continue;
    }
    if (v.size() > kMaxFilter)
      co_return json_error(400,
                           k + " is longer than " + std::to_string(kMaxFilter) + " characters");
    if (k == "sender") {
      f.sender = v;
    } else if (k == "recipient") {
      f.recipient = v;
    } else if (k == "domain") {
      f.domain = v;
    } else if (k == "state") {
      if (!v.empty() && v != "hold" && v != "active" && v != "deferred" && v != "incoming")
        co_return json_error(400, "state must be one of hold, active, deferred, incoming");
      f.state = v;
    } else {
      co_return json_error(400, "unknown parameter \"" + k +
                                    "\" (page, per_page, sender, recipient, domain, state)");
    }
  }
  const queue::ListFilter filter = f;
  const auto selected = co_await q->page(filter, page, per_page);
  std::string body = "{\"page\": " + std::to_string(page) +
                     ", \"per_page\": " + std::to_string(per_page) +
                     ", \"total\": " + std::to_string(selected.total) +
                     ", \"pages\": " + std::to_string((selected.total + per_page - 1) / per_page) +
                     ", \"now\": " + std::to_string(unix_now()) + ", \"items\": [";
  for (std::size_t i = 0; i < selected.items.size(); ++i) {
    if (i) body += ", ";
    body += queue::json_item(selected.items[i]);
  }
  body += "]}";
  co_return json_response(200, std::move(body));
}

asio::awaitable<net::HttpResponse> Console::queue_show(const std::string& id) {
  net::QueueRunner* q = server_.queue();
  if (!q) co_return json_error(503, "no outbound queue (discard mode)");
  if (!valid_id(id)) co_return json_error(400, "not a queue id: \"" + id + "\"");
  auto item = q->find(id);
  if (!item) co_return json_error(404, id + ": not in the queue");
  const std::string name = item->name;
  struct Files {
    std::string transcript, headers;
  };
  auto read = [q, &name] { return Files{q->transcript_of(name), q->headers_of(name)}; };
  const Files files = co_await net::run_blocking(server_.pool(), read);
  // "transcript": the last attempt's (as `taube queue show`); "attempts": the last few, oldest
  // first, each with its heading (queue/transcript_log.hpp).
  const auto attempts = queue::split_attempts(files.transcript);
  std::string list;
  for (const auto& a : attempts)
    list += std::string(list.empty() ? "" : ", ") +
            "{\"heading\": " + queue::json_quote(a.heading) +
            ", \"transcript\": " + queue::json_quote(a.text) + "}";
  co_return json_response(
      200, "{\"item\": " + queue::json_item(*item) + ", \"why\": " +
               queue::json_quote(queue::why_text(*item, unix_now())) + ", \"transcript\": " +
               queue::json_quote(attempts.empty() ? std::string() : attempts.back().text) +
               ", \"attempts\": [" + list + "], \"headers\": " + queue::json_quote(files.headers) +
               "}");
}

// The notice a bounce would send now (QueueRunner::preview_bounce): {"id", "would_send",
// "why", "to", "recipients", "message"}. 200 also when none would be sent (would_send false and
// why): that is an answer about the message, not an error.
asio::awaitable<net::HttpResponse> Console::queue_dsn(const std::string& id) {
  net::QueueRunner* q = server_.queue();
  if (!q) co_return json_error(503, "no outbound queue (discard mode)");
  if (!valid_id(id)) co_return json_error(400, "not a queue id: \"" + id + "\"");
  const auto p = co_await q->preview_bounce(id);
  using R = net::QueueRunner::AdminResult;
  if (p.result == R::NotFound) co_return json_error(404, id + ": not in the queue");
  if (p.result == R::Failed) co_return json_error(500, id + ": cannot build the notice: " + p.why);
  std::string rcpts;
  for (const auto& r : p.recipients) rcpts += (rcpts.empty() ? "" : ", ") + queue::json_quote(r);
  co_return json_response(200, "{\"id\": " + queue::json_quote(id) +
                                   ", \"would_send\": " + (p.result == R::Done ? "true" : "false") +
                                   ", \"why\": " + queue::json_quote(p.why) + ", \"to\": " +
                                   queue::json_quote(p.sender) + ", \"recipients\": [" + rcpts +
                                   "], \"message\": " + queue::json_quote(p.message) + "}");
}

asio::awaitable<std::pair<int, std::string>> Console::act(const std::string& id,
                                                          const std::string& action) {
  net::QueueRunner& q = *server_.queue();
  auto r = net::QueueRunner::AdminResult::NotFound;
  // `taube queue`'s verbs: hold, release, requeue (retry now), bounce, delete.
  if (action == "hold") r = co_await q.hold(id);
  if (action == "release") r = co_await q.release(id);
  if (action == "retry") r = q.requeue(id);
  if (action == "bounce") r = co_await q.bounce(id);
  if (action == "delete") r = co_await q.remove(id);
  co_return std::pair(result_status(r), "{\"id\": " + queue::json_quote(id) +
                                            ", \"action\": " + queue::json_quote(action) +
                                            ", \"result\": \"" + result_word(r) + "\"}");
}

asio::awaitable<net::HttpResponse> Console::queue_action(const std::string& id,
                                                         const std::string& action,
                                                         const std::string& who) {
  if (!server_.queue()) co_return json_error(503, "no outbound queue (discard mode)");
  if (!valid_id(id)) co_return json_error(400, "not a queue id: \"" + id + "\"");
  if (!known_action(action))
    co_return json_error(
        404, "no such action \"" + action + "\" (hold, release, retry, bounce, delete)");
  spdlog::info("console: {}: {} by {}", id, action, who);
  const auto [status, body] = co_await act(id, action);
  co_return json_response(status, body);
}

asio::awaitable<net::HttpResponse> Console::bulk(const Request& req, const std::string& who) {
  if (!server_.queue()) co_return json_error(503, "no outbound queue (discard mode)");
  auto body = parse_json_object(req.body);
  if (!body) co_return json_error(400, body.error());
  auto action = json_string(*body, "action");
  auto ids = json_strings(*body, "ids");
  if (!action) co_return json_error(400, action.error());
  if (!ids) co_return json_error(400, ids.error());
  if (!*action || !known_action(**action))
    co_return json_error(400, "\"action\" must be one of hold, release, retry, bounce, delete");
  if (!*ids || (*ids)->empty() || (*ids)->size() > kMaxBulk)
    co_return json_error(400, "\"ids\" must list 1 to " + std::to_string(kMaxBulk) + " queue ids");
  for (const auto& id : **ids)
    if (!valid_id(id)) co_return json_error(400, "not a queue id: \"" + id + "\"");
  const std::string verb = **action;
  spdlog::info("console: {} of {} message(s) by {}", verb, (*ids)->size(), who);
  std::string out = "{\"action\": " + queue::json_quote(verb) + ", \"results\": [";
  bool all = true;
  std::size_t n = 0;
  for (const auto& id : **ids) {
    const auto [status, one] = co_await act(id, verb);
    if (status != 200) all = false;
    out += (n++ ? ", " : "") + one;
  }
  out += std::string("], \"ok\": ") + (all ? "true" : "false") + "}";
  co_return json_response(200, std::move(out));
}

net::HttpResponse Console::flush(const Request& req, const std::string& who) {
  net::QueueRunner* q = server_.queue();
  if (!q) return json_error(503, "no outbound queue (discard mode)");
  std::string domain;
  if (!req.body.empty()) {
    auto body = parse_json_object(req.body);
    if (!body) return json_error(400, body.error());
    auto d = json_string(*body, "domain");
    if (!d) return json_error(400, d.error());
    if (*d) domain = **d;
  }
  if (domain.size() > kMaxFilter || !std::all_of(domain.begin(), domain.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
      }))
    return json_error(400, "not a domain: \"" + domain + "\"");
  spdlog::info("console: flush {} by {}", domain.empty() ? "of everything" : domain, who);
  const std::size_t n = domain.empty() ? q->flush_all() : q->flush_domain(domain);
  return json_response(200, "{\"due_now\": " + std::to_string(n) + "}");
}

asio::awaitable<net::HttpResponse> Console::overview() {
  const std::int64_t now = unix_now();
  std::string out = "{\"now\": " + std::to_string(now) +
                    ", \"stopping\": " + (server_.stopping() ? "true" : "false");
  if (net::QueueRunner* q = server_.queue()) {
    const auto sum = co_await q->summary();
    const std::int64_t oldest = sum.oldest_arrival;
    const std::size_t recipients = sum.recipients;
    const auto& by_queue = sum.by_queue;
    out += ", \"queue\": {\"messages\": " + std::to_string(q->size()) +
           ", \"recipients\": " + std::to_string(recipients) +
           ", \"oldest_arrival\": " + std::to_string(oldest) +
           ", \"oldest_age\": " + std::to_string(oldest ? now - oldest : 0) +
           ", \"loaded\": " + (q->loaded() ? "true" : "false");
    for (const auto& [k, v] : by_queue) out += ", \"" + k + "\": " + std::to_string(v);
    const auto conns = q->connection_counts();
    std::size_t open = 0;
    std::size_t tls = 0;
    for (const auto& [version, count] : conns.open_by_tls) {
      open += count;
      if (!version.empty()) tls += count;
    }
    out += "}, \"outbound\": {\"open\": " + std::to_string(open) +
           ", \"open_tls\": " + std::to_string(tls) +
           ", \"opening\": " + std::to_string(conns.opening) +
           ", \"opened\": " + std::to_string(outbound_opened_) +
           ", \"opened_tls\": " + std::to_string(outbound_tls_) + "}";
  }
  out += ", \"smtp_connections\": " + std::to_string(server_.connections());
  out += ", \"inbound\": {\"sessions\": " + std::to_string(inbound_) +
         ", \"tls\": " + std::to_string(inbound_tls_) + ", \"rejects\": {";
  std::size_t n = 0;
  for (const auto& [what, count] : rejects_)
    out += (n++ ? ", " : "") + queue::json_quote(what) + ": " + std::to_string(count);
  out += "}, \"reject_reasons\": [";
  n = 0;
  for (const auto& [what, row] : reasons_.rows())
    out += std::string(n++ ? ", " : "") + "{\"what\": " + queue::json_quote(what) +
           ", \"count\": " + std::to_string(row.count) +
           ", \"example\": " + queue::json_quote(row.example) + "}";
  out += "]}";
  const auto snap = activity_.snapshot(now, kActivityMinutes);
  out +=
      ", \"activity\": {\"first_minute\": " + std::to_string(snap.first_minute) + ", \"step\": 60";
  for (std::size_t k = 0; k < kActivities; ++k) {
    out += std::string(", \"") + activity_name(static_cast<Activity>(k)) + "\": [";
    for (std::size_t m = 0; m < snap.counts[k].size(); ++m)
      out += (m ? "," : "") + std::to_string(snap.counts[k][m]);
    out += "]";
  }
  out += "}";
  const std::string mail_root = cfg_.mail_root;
  const std::string queue_dir =
      server_.queue() ? server_.config().outbound.queue_path : std::string();
  auto disks = [&mail_root, &queue_dir] {
    std::string d = disk_json("mail_root", mail_root);
    if (!queue_dir.empty()) d += ", " + disk_json("queue", queue_dir);
    return d;
  };
  const std::string disk = co_await net::run_blocking(server_.pool(), disks);
  out += ", \"disk\": [" + disk + "]}";
  co_return json_response(200, std::move(out));
}

net::HttpResponse Console::live_log(const Request& req) {
  if (!feed_) return json_error(404, "the live log is not available");
  auto params = parse_query(req.query);
  if (!params) return json_error(400, params.error());
  std::string filter;
  for (const auto& [k, v] : *params) {
    if (k != "filter") return json_error(400, "unknown parameter \"" + k + "\" (filter)");
    if (v.size() > kMaxFilter) return json_error(400, "filter is too long");
    filter = v;
  }
  if (streams_ >= kMaxStreams) return json_error(503, "too many live-log streams open");
  // EventSource reconnects with the last id it saw (WHATWG HTML §9.2): no line twice.
  std::uint64_t after = 0;
  if (const std::string* last = req.header("Last-Event-ID")) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(last->data(), last->data() + last->size(), n);
    if (ec == std::errc() && end == last->data() + last->size()) after = n;
  }
  Response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.stream = [this, filter, after](net::Transport& t) { return stream_log(t, filter, after); };
  return r;
}

asio::awaitable<void> Console::stream_log(net::Transport& t, const std::string& filter,
                                          std::uint64_t after) {
  ++streams_;
  asio::steady_timer timer(io_);
  std::vector<LogFeed::Line> lines;
  // A new reader gets the last lines at once, then what follows.
  std::uint64_t seen = feed_->since(after, filter, 200, lines);
  auto last_write = std::chrono::steady_clock::now();
  std::string out = "retry: 2000\n\n";
  for (;;) {
    for (const auto& l : lines)
      out += "id: " + std::to_string(l.seq) + "\ndata: " + l.text + "\n\n";
    const auto now = std::chrono::steady_clock::now();
    // A comment now and then: proxies keep the stream open, and a vanished reader is noticed
    // when the write fails.
    if (out.empty() && now - last_write > std::chrono::seconds(15)) out = ": keep-alive\n\n";
    if (!out.empty()) {
      const auto deadline = now + std::chrono::seconds(10);
      const asio::const_buffer b(out.data(), out.size());
      const auto ec = co_await t.write_all(b, deadline);
      if (ec) break;
      out.clear();
      last_write = now;
    }
    if (stopping_ || http_->stopping() || server_.stopping()) break;
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(as_tuple(use_awaitable));
    lines.clear();
    seen = feed_->since(seen, filter, 200, lines);
  }
  --streams_;
}

}  // namespace taube::console
