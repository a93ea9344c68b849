// The console's Destinations endpoint (docs/console.md "Destinations"): per destination, the
// queue's shape there, its connections and back-off, and what its attempts met over the last
// hour and since start. The rows are QueueRunner::destinations(), the same ones `taube queue
// destinations` prints over the control socket; sorting and the JSON object are
// queue/destination_view's.
#include <charconv>
#include <ctime>
#include <set>

#include "console/console.hpp"
#include "console/request_parse.hpp"
#include "queue/destination_view.hpp"
#include "queue/listing.hpp"

namespace taube::console {

namespace {

// As the queue table's: any real number of destinations fits, a typo cannot ask for an absurd
// page.
constexpr std::uint64_t kMaxPage = 1'000'000;
constexpr std::uint64_t kMaxPerPage = 500;
constexpr std::uint64_t kDefaultPerPage = 50;

tl::expected<std::uint64_t, std::string> whole_number(const std::string& name, const std::string& v,
                                                      std::uint64_t max) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 1 || n > max)
    return tl::unexpected(name + " must be a whole number from 1 to " + std::to_string(max));
  return n;
}

}  // namespace

asio::awaitable<net::HttpResponse> Console::destinations(const Request& req) {
  net::QueueRunner* q = server_.queue();
  if (!q) co_return json_error(503, "no outbound queue (discard mode)");
  auto params = parse_query(req.query);
  if (!params) co_return json_error(400, params.error());
  std::uint64_t page = 1, per_page = kDefaultPerPage;
  std::string sort = "queued";
  std::set<std::string> seen;
  for (const auto& [k, v] : *params) {
    if (!seen.insert(k).second) co_return json_error(400, "\"" + k + "\" given twice");
    if (k == "page" || k == "per_page") {
      auto n = whole_number(k, v, k == "page" ? kMaxPage : kMaxPerPage);
      if (!n) co_return json_error(400, n.error());
      (k == "page" ? page : per_page) = *n;
    } else if (k == "sort") {
      if (!queue::parse_destination_sort(v))
        co_return json_error(400, "sort must be one of " + std::string(queue::kDestinationSorts));
      sort = v;
    } else {
      co_return json_error(400, "unknown parameter \"" + k + "\" (sort, page, per_page)");
    }
  }
  auto rows = co_await q->destinations();
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  queue::sort_destinations(rows, *queue::parse_destination_sort(sort), now);
  // Totals over every destination, not just the page: the page's header reads them.
  std::size_t queued = 0, held = 0;
  queue::AttemptCounts hour{};
  for (const auto& r : rows) {
    queued += r.queued();
    if (r.held(now)) ++held;
    for (std::size_t k = 0; k < queue::kAttemptKinds; ++k) hour[k] += r.history.last_hour[k];
  }
  const auto& stats = q->destination_stats();
  std::string out = "{\"now\": " + std::to_string(now) + ", \"sort\": " + queue::json_quote(sort) +
                    ", \"page\": " + std::to_string(page) +
                    ", \"per_page\": " + std::to_string(per_page) +
                    ", \"total\": " + std::to_string(rows.size()) +
                    ", \"pages\": " + std::to_string((rows.size() + per_page - 1) / per_page) +
                    ", \"tracked\": " + std::to_string(stats.size()) +
                    ", \"max_tracked\": " + std::to_string(stats.max_destinations()) +
                    ", \"evicted\": " + std::to_string(stats.evicted()) +
                    ", \"totals\": {\"queued\": " + std::to_string(queued) +
                    ", \"held\": " + std::to_string(held) + ", \"last_hour\": {";
  for (std::size_t k = 0; k < queue::kAttemptKinds; ++k)
    out += (k ? ", \"" : "\"") +
           std::string(queue::attempt_kind_name(static_cast<queue::AttemptKind>(k))) +
           "\": " + std::to_string(hour[k]);
  out += "}}, \"items\": [";
  const std::uint64_t first = (page - 1) * per_page;
  for (std::uint64_t i = first; i < rows.size() && i < first + per_page; ++i)
    out += (i > first ? ", " : "") + queue::json_destination(rows[i], now);
  out += "]}";
  co_return json_response(200, std::move(out));
}

}  // namespace taube::console
