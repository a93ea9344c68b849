// QueueRunner::preview_bounce: the DSN that "bounce" (postsuper -d's sibling, the console's and
// `taube queue bounce`'s action) would send for a message now, built by the same functions as
// the real one (queue::expire_now, select_reports, build_dsn) on a copy of the envelope. Nothing
// is changed or filed: it answers the operator's "what will the sender get" before pressing it.
#include <asio/use_awaitable.hpp>

#include "net/blocking_pool.hpp"
#include "net/queue_runner.hpp"
#include "queue/attempt.hpp"
#include "queue/dsn.hpp"

namespace taube::net {

asio::awaitable<QueueRunner::BouncePreview> QueueRunner::preview_bounce(const std::string& id) {
  BouncePreview out;
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) {
    out.result = AdminResult::NotFound;
    co_return out;
  }
  auto copy = item->env;
  auto applied = queue::expire_now(copy, now(), "message expired by the administrator");
  if (applied.recipients.empty()) {
    out.result = AdminResult::Unchanged;
    out.why = "no recipient is still queued: a bounce would change nothing";
    co_return out;
  }
  const auto reports = queue::select_reports(copy, applied.notices);
  if (reports.empty()) {
    out.result = AdminResult::Unchanged;
    out.why = copy.sender.null
                  ? "the sender is <>: no notice is sent for a notice (RFC 5321 §4.5.5)"
                  : "every recipient asked for no failure notice (NOTIFY, RFC 3461)";
    co_return out;
  }
  for (const auto& r : reports) out.recipients.push_back(r.final_recipient);
  queue::DsnRequest req;
  req.reporting_mta = hostname_;
  req.date = now();
  // Not a queue id that will exist: the real notice gets its own when it is filed.
  req.message_id = "<preview." + copy.id + "@" + hostname_ + ">";
  req.reports = reports;
  const std::string name = item->name;
  // The boundary of the real notice is drawn at random; the preview's is fixed and, should the
  // message contain it, another is drawn as build_dsn asks.
  auto job = [&]() -> tl::expected<queue::Dsn, queue::DsnError> {
    auto original = store_.read_message(name, req.max_returned_content + 1);
    const std::string text = original ? *original : std::string();
    for (int n = 0;; ++n) {
      req.boundary = "=_taube_preview_" + std::to_string(n);
      auto dsn = queue::build_dsn(copy, req, text);
      if (dsn || dsn.error() != queue::DsnError::BoundaryInContent || n > 8) return dsn;
    }
  };
  auto dsn = co_await run_blocking(pool_, job);
  if (!dsn) {
    out.result = AdminResult::Failed;
    out.why = std::string(queue::describe(dsn.error()));
    co_return out;
  }
  out.result = AdminResult::Done;
  out.sender = copy.sender.mailbox.to_string();
  out.message = std::move(dsn->message);
  co_return out;
}

}  // namespace taube::net
