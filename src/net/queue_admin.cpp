// QueueRunner's administration: what `taube queue` does through the control socket
// (docs/queue-control.md). Everything runs on the event loop; the envelope writes on the pool.
// An item in an attempt is not touched (Busy: the caller says "try again"), so an action never
// races a delivery's own result.
#include <algorithm>

#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "net/blocking_pool.hpp"
#include "net/queue_runner.hpp"
#include "queue/attempt.hpp"
#include "queue/route.hpp"

namespace taube::net {

namespace {

// A scan of the queue for the console lets the event loop run after this many items (under a
// millisecond of work with a million items, most of it cache misses), so an SMTP session waits
// no longer than that at each of its steps.
constexpr std::size_t kScanSlice = 512;

// The "id" line of a parked envelope's text (its second line), without decoding it.
bool parked_id_is(const std::string& text, const std::string& id) {
  const std::string needle = "\nid " + smtp::encode_xtext(id) + "\n";
  return text.find(needle) != std::string::npos;
}

}  // namespace

queue::ListedItem QueueRunner::listed(const std::string& name, const queue::QueueEnvelope& env,
                                      bool active) const {
  queue::ListedItem li;
  li.name = name;
  li.envelope = env;
  li.size = env.params.size.value_or(0);
  li.active = active;
  li.lifetime_end = queue::lifetime_deadline(env.arrival, cfg_.retry);
  return li;
}

std::string QueueRunner::headers_of(const std::string& name) {
  auto m = store_.read_message(name, 64 * 1024);
  if (!m) return {};
  return std::string(queue::header_section(*m));
}

std::vector<queue::ListedItem> QueueRunner::list() {
  std::vector<queue::ListedItem> out;
  out.reserve(items_.size());
  for (auto& [name, e] : items_) {
    if (e.live) {
      out.push_back(listed(name, e.live->env, e.live->busy));
    } else if (auto env = queue::decode_envelope(e.parked)) {
      out.push_back(listed(name, *env, false));
    }
  }
  // Oldest first, as an administrator reads a queue.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.envelope.arrival != b.envelope.arrival ? a.envelope.arrival < b.envelope.arrival
                                                    : a.name < b.name;
  });
  return out;
}

asio::awaitable<void> QueueRunner::visit_all(
    const std::function<void()>& reset,
    const std::function<void(const std::string&, Entry&)>& visit) {
  for (int round = 0;; ++round) {
    reset();
    const std::size_t buckets = items_.bucket_count();
    std::size_t since_yield = 0;
    bool rehashed = false;
    for (std::size_t b = 0; b < buckets; ++b) {
      if (items_.bucket_count() != buckets) {
        rehashed = true;
        break;
      }
      for (auto it = items_.begin(b); it != items_.end(b); ++it) {
        visit(it->first, it->second);
        ++since_yield;
      }
      if (since_yield >= kScanSlice && round < 3) {
        since_yield = 0;
        co_await asio::post(io_, asio::use_awaitable);
      }
    }
    if (!rehashed) co_return;
  }
}

asio::awaitable<queue::ListPage> QueueRunner::page(const queue::ListFilter& f, std::size_t page,
                                                   std::size_t per_page) {
  const bool text_filter = !f.sender.empty() || !f.recipient.empty() || !f.domain.empty();
  struct Key {
    std::int64_t arrival;
    std::string name;
  };
  // list()'s order.
  const auto before = [](const Key& a, const Key& b) {
    return a.arrival != b.arrival ? a.arrival < b.arrival : a.name < b.name;
  };
  const std::size_t skip = page == 0 ? 0 : page - 1;
  // The first `keep` keys in that order, as a max-heap: a page near the start keeps few.
  const std::size_t keep = per_page == 0                     ? 0
                           : skip >= SIZE_MAX / per_page - 1 ? SIZE_MAX
                                                             : (skip + 1) * per_page;
  std::vector<Key> heap;
  std::size_t total = 0;
  const std::function<void()> reset = [&] {
    heap.clear();
    // Once: growing a heap of a million names within one slice would hold up the loop.
    heap.reserve(std::min(keep, items_.size()));
    total = 0;
  };
  const std::function<void(const std::string&, Entry&)> visit = [&](const std::string& name,
                                                                    Entry& e) {
    std::int64_t arrival = 0;
    if (e.live) {
      if (!queue::matches(listed(name, e.live->env, e.live->busy), f)) return;
      arrival = e.live->env.arrival;
    } else {
      const auto s = queue::peek_envelope(e.parked);
      if (!s.ok) return;  // as list(): an envelope that does not decode is not shown
      if (!f.state.empty() && queue::queue_name(s) != f.state) return;
      if (text_filter) {
        if (!queue::may_match(e.parked, f)) return;
        auto env = queue::decode_envelope(e.parked);
        if (!env || !queue::matches(listed(name, *env, false), f)) return;
      }
      arrival = s.arrival;
    }
    ++total;
    if (heap.size() < keep) {
      heap.push_back({arrival, name});
      std::push_heap(heap.begin(), heap.end(), before);
    } else if (!heap.empty() && before(Key{arrival, name}, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.back() = {arrival, name};
      std::push_heap(heap.begin(), heap.end(), before);
    }
  };
  co_await visit_all(reset, visit);
  queue::ListPage out;
  out.total = total;
  // The page is the heap's largest keys past `first`: popped (largest first), not a sort of the
  // whole heap, which for a deep page holds most of the queue.
  const std::size_t first = keep == SIZE_MAX ? SIZE_MAX : skip * per_page;
  std::vector<Key> page_keys;
  while (heap.size() > first) {
    std::pop_heap(heap.begin(), heap.end(), before);
    page_keys.push_back(std::move(heap.back()));
    heap.pop_back();
  }
  std::reverse(page_keys.begin(), page_keys.end());
  for (const auto& k : page_keys) {
    // Looked up again: the scan yielded, and an item may have gone (or changed) meanwhile.
    const auto it = items_.find(k.name);
    if (it == items_.end()) continue;
    Entry& e = it->second;
    if (e.live) {
      out.items.push_back(listed(it->first, e.live->env, e.live->busy));
    } else if (auto env = queue::decode_envelope(e.parked)) {
      out.items.push_back(listed(it->first, *env, false));
    }
  }
  co_return out;
}

asio::awaitable<QueueRunner::Summary> QueueRunner::summary() {
  Summary out;
  const std::function<void()> reset = [&] {
    out = Summary{};
    for (const auto* q : {"incoming", "active", "deferred", "hold"}) out.by_queue[q] = 0;
  };
  const std::function<void(const std::string&, Entry&)> visit = [&](const std::string& name,
                                                                    Entry& e) {
    std::int64_t arrival = 0;
    if (e.live) {
      ++out.by_queue[queue::queue_name(listed(name, e.live->env, e.live->busy))];
      for (const auto& r : e.live->env.recipients) out.recipients += queue::is_queued(r.state);
      arrival = e.live->env.arrival;
    } else {
      const auto s = queue::peek_envelope(e.parked);
      if (!s.ok) return;
      ++out.by_queue[queue::queue_name(s)];
      out.recipients += s.queued;
      arrival = s.arrival;
    }
    if (out.oldest_arrival == 0 || arrival < out.oldest_arrival) out.oldest_arrival = arrival;
  };
  co_await visit_all(reset, visit);
  co_return out;
}

QueueRunner::Entry* QueueRunner::entry_of(const std::string& id) {
  if (auto it = items_.find(id); it != items_.end()) return &it->second;
  for (auto& [name, e] : items_) {
    if (e.live ? e.live->env.id == id : parked_id_is(e.parked, id)) return &e;
  }
  return nullptr;
}

std::optional<queue::ListedItem> QueueRunner::find(const std::string& id) {
  Entry* e = entry_of(id);
  if (e == nullptr) return std::nullopt;
  if (e->live) return listed(*e->name, e->live->env, e->live->busy);
  auto env = queue::decode_envelope(e->parked);
  if (!env) return std::nullopt;
  return listed(*e->name, *env, false);
}

asio::awaitable<bool> QueueRunner::rewrite(Item& item) {
  const std::string name = item.name;
  const queue::QueueEnvelope env = item.env;
  auto write = [this, &name, &env] { return store_.update(name, env); };
  auto r = co_await run_blocking(pool_, write);
  if (!r)
    observer_.queue_note(
        {env.id,
         std::string("warning: cannot update the queue file: ") + store::to_string(r.error()), true,
         "postsuper"});
  co_return r.has_value();
}

asio::awaitable<QueueRunner::AdminResult> QueueRunner::hold(const std::string& id) {
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) co_return AdminResult::NotFound;
  if (item->busy) co_return AdminResult::Busy;
  if (item->env.held != 0) co_return AdminResult::Unchanged;
  set_busy(*item, true);
  unfile(*e);
  const std::int64_t before = item->env.held;
  item->env.held = now();
  const bool ok = co_await rewrite(*item);
  if (!ok) item->env.held = before;
  if (ok) observer_.queue_note({item->env.id, "placed on hold", false, "postsuper"});
  done_with(*item, false);
  co_return ok ? AdminResult::Done : AdminResult::Failed;
}

asio::awaitable<QueueRunner::AdminResult> QueueRunner::release(const std::string& id) {
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) co_return AdminResult::NotFound;
  if (item->busy) co_return AdminResult::Busy;
  if (item->env.held == 0) co_return AdminResult::Unchanged;
  set_busy(*item, true);
  const queue::QueueEnvelope before = item->env;
  item->env.held = 0;
  // Released mail is due at once (Postfix moves it back to the incoming queue).
  const std::int64_t t = now();
  for (auto& r : item->env.recipients)
    if (queue::is_queued(r.state)) r.next_attempt = std::min(r.next_attempt, t);
  const bool ok = co_await rewrite(*item);
  if (!ok) item->env = before;
  if (ok) observer_.queue_note({item->env.id, "released from hold", false, "postsuper"});
  done_with(*item, false);
  co_return ok ? AdminResult::Done : AdminResult::Failed;
}

asio::awaitable<QueueRunner::AdminResult> QueueRunner::remove(const std::string& id) {
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) co_return AdminResult::NotFound;
  if (item->busy) co_return AdminResult::Busy;
  set_busy(*item, true);
  unfile(*e);
  const std::string name = item->name;
  const std::string qid = item->env.id;
  const queue::QueueEnvelope env = item->env;
  const std::int64_t t = now();
  auto drop = [this, &name, &env, t] {
    // The Message-ID while the message is there; the records once it is gone.
    const std::string message_id = history_ ? message_id_in(name) : std::string();
    auto r = store_.remove(name);
    if (r) record_deleted(name, env, t, message_id);
    return r;
  };
  auto r = co_await run_blocking(pool_, drop);
  if (!r) {
    observer_.queue_note(
        {qid, std::string("warning: cannot remove the queue file: ") + store::to_string(r.error()),
         true, "postsuper"});
    done_with(*item, false);
    co_return AdminResult::Failed;
  }
  observer_.queue_note({qid, "removed (deleted by the administrator)", false, "postsuper"});
  done_with(*item, true);
  co_return AdminResult::Done;
}

QueueRunner::AdminResult QueueRunner::requeue(const std::string& id) {
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) return AdminResult::NotFound;
  if (item->env.held != 0) return AdminResult::Unchanged;  // release it first
  const std::int64_t t = now();
  bool any = false;
  for (auto& r : item->env.recipients) {
    if (!queue::is_queued(r.state)) continue;
    r.next_attempt = std::min(r.next_attempt, t);
    // The route is worked out again at the attempt (route_for, under the current table); the
    // destination's hold-back ends, as for ETRN.
    auto key = queue::route_for(r.mailbox.domain, cfg_.routing).key();
    if (auto d = destinations_.find(key); d != destinations_.end()) d->second.state.answered();
    any = true;
  }
  if (!any) return AdminResult::Unchanged;
  observer_.queue_note({item->env.id, "requeued", false, "postsuper"});
  if (item->busy) {
    // The attempt's result replaces this envelope: due again when it is filed (file()).
    auto& domains = pending_flush_[item->name];
    for (const auto& r : item->env.recipients)
      domains.push_back(smtp::ascii_lower(r.mailbox.domain));
  } else {
    file(*item);
    schedule();
  }
  return AdminResult::Done;
}

asio::awaitable<QueueRunner::AdminResult> QueueRunner::bounce(const std::string& id) {
  Entry* e = entry_of(id);
  Item* item = e ? live(*e) : nullptr;
  if (item == nullptr) co_return AdminResult::NotFound;
  if (item->busy) co_return AdminResult::Busy;
  set_busy(*item, true);
  unfile(*e);
  observer_.queue_note({item->env.id, "expired by the administrator", false, "postsuper"});
  auto updated = item->env;
  updated.held = 0;
  auto applied = queue::expire_now(updated, now(), "message expired by the administrator");
  if (applied.recipients.empty()) {
    done_with(*item, false);
    co_return AdminResult::Unchanged;
  }
  const std::string no_transcript;
  const double zero = 0;
  co_await commit_applied(*item, updated, applied, no_transcript, zero, zero);
  co_return AdminResult::Done;
}

std::size_t QueueRunner::flush_all() {
  const std::int64_t t = now();
  std::size_t n = 0;
  for (auto& [name, e] : items_) {
    Item* item = live(e);
    if (item == nullptr || item->env.held != 0) continue;
    bool touched = false;
    for (auto& r : item->env.recipients) {
      if (!queue::is_queued(r.state)) continue;
      r.next_attempt = std::min(r.next_attempt, t);
      touched = true;
      ++n;
    }
    if (touched && item->busy) {
      auto& domains = pending_flush_[name];
      for (const auto& r : item->env.recipients)
        domains.push_back(smtp::ascii_lower(r.mailbox.domain));
    }
    if (touched && !item->busy) file(*item);
  }
  for (auto& [key, d] : destinations_) d.state.answered();
  if (n > 0)
    observer_.queue_note(
        {"", "flush: " + std::to_string(n) + " recipient(s) due now", false, "postqueue"});
  schedule();
  return n;
}

}  // namespace taube::net
