// The console's Deliveries endpoints (console.hpp, docs/console.md "Deliveries"): the history of
// finished deliveries that the queue runner keeps (store/delivery_history.hpp), searched on the
// worker pool, newest first, a page at a time by cursor.
//
//   GET /api/v1/deliveries?q=&status=&page=&per_page=   a page of matching records
//   GET /api/v1/deliveries/ID                           every record of one queue id or file
//
// `page` is the `next_page` of a previous answer, not a number: the history grows at its head
// while someone pages through it, and a cursor (a position in the segments) neither repeats nor
// skips a record when it does.
#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>

#include "console/console.hpp"
#include "console/request_parse.hpp"
#include "net/blocking_pool.hpp"
#include "queue/listing.hpp"
#include "store/delivery_history.hpp"

namespace taube::console {

namespace {

constexpr std::uint64_t kMaxPerPage = 200;
constexpr std::uint64_t kDefaultPerPage = 50;
constexpr std::size_t kMaxQuery = 256;
// Records of one message at most (one per recipient; a message has at most a few thousand).
constexpr std::size_t kMaxOfOne = 5000;

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  const char c0 = id.front();
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9')))
    return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ',' || c == ':' || c == '=' || c == '+';
  });
}

bool known_status(const std::string& s) {
  return s == "sent" || s == "bounced" || s == "expired" || s == "deleted";
}

std::string history_json(const store::DeliveryHistory& h) {
  return "{\"bytes\": " + std::to_string(h.bytes()) +
         ", \"max_bytes\": " + std::to_string(h.max_bytes()) +
         ", \"segments\": " + std::to_string(h.segments()) + "}";
}

std::string items_json(const std::vector<store::DeliveryRecord>& records) {
  std::string out = "[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i) out += ", ";
    out += store::record_json(records[i]);
  }
  return out + "]";
}

}  // namespace

asio::awaitable<net::HttpResponse> Console::deliveries(const Request& req,
                                                       const std::string& path) {
  net::QueueRunner* q = server_.queue();
  if (!q) co_return json_error(503, "no outbound queue (discard mode)");
  store::DeliveryHistory* h = q->history();
  if (!h)
    co_return json_error(503, "no delivery history ([queue] history_size_mb = 0, or see the log)");
  if (path.starts_with("/deliveries/")) {
    const std::string id = path.substr(std::string_view("/deliveries/").size());
    if (!valid_id(id)) co_return json_error(400, "not a queue id: \"" + id + "\"");
    store::RecordQuery query;
    query.queue_id = id;
    auto search = [h, &query] { return h->search(query, kMaxOfOne); };
    const auto found = co_await net::run_blocking(server_.pool(), search);
    if (found.records.empty())
      co_return json_error(404, id + ": no finished delivery in the history");
    co_return json_response(200, "{\"id\": " + queue::json_quote(id) +
                                     ", \"items\": " + items_json(found.records) + "}");
  }
  auto params = parse_query(req.query);
  if (!params) co_return json_error(400, params.error());
  store::RecordQuery query;
  std::uint64_t per_page = kDefaultPerPage;
  std::optional<store::DeliveryHistory::Cursor> cursor;
  std::set<std::string> seen;
  for (const auto& [k, v] : *params) {
    if (!seen.insert(k).second) co_return json_error(400, "\"" + k + "\" given twice");
    if (k == "per_page") {
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 1 || n > kMaxPerPage)
        co_return json_error(
            400, "per_page must be a whole number from 1 to " + std::to_string(kMaxPerPage));
      per_page = n;
    } else if (k == "page") {
      if (v.empty()) continue;  // the first page
      cursor = store::DeliveryHistory::parse_cursor(v);
      if (!cursor)
        co_return json_error(400, "page must be the next_page of a previous answer (\"N.N\")");
    } else if (k == "q") {
      if (v.size() > kMaxQuery)
        co_return json_error(400, "q is longer than " + std::to_string(kMaxQuery) + " characters");
      query.text = v;
    } else if (k == "status") {
      if (!v.empty() && !known_status(v))
        co_return json_error(400, "status must be one of sent, bounced, expired, deleted");
      query.status = v;
    } else {
      co_return json_error(400, "unknown parameter \"" + k + "\" (q, status, page, per_page)");
    }
  }
  const std::size_t limit = per_page;
  auto search = [h, &query, limit, &cursor] { return h->search(query, limit, cursor); };
  const auto page = co_await net::run_blocking(server_.pool(), search);
  std::string out = "{\"now\": " + std::to_string(static_cast<std::int64_t>(std::time(nullptr))) +
                    ", \"q\": " + queue::json_quote(query.text) +
                    ", \"status\": " + queue::json_quote(query.status) +
                    ", \"per_page\": " + std::to_string(per_page) + ", \"next_page\": " +
                    (page.next ? "\"" + store::DeliveryHistory::cursor_text(*page.next) + "\""
                               : std::string("null")) +
                    ", \"history\": " + history_json(*h) +
                    ", \"items\": " + items_json(page.records) + "}";
  co_return json_response(200, std::move(out));
}

}  // namespace taube::console
