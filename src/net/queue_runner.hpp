// QueueRunner: delivers what the outbound queue holds. Event-driven: the spool sink submits each
// item as soon as it is durable and an idle queue starts a delivery at once; a timer wakes the
// runner for the next retry. Scheduling is per destination (RFC 5321 §4.5.4.1): recipients are
// grouped by next hop (queue/route.hpp), each destination has its own concurrency limit and
// hold-back (queue::DestinationState), and its connections carry message after message (RSET
// between them, the session's job) until the destination has nothing due, a connection has
// carried max_messages_per_connection, or it is max_connection_age old.
//
// After each attempt the pure step (queue/attempt.hpp) decides every recipient's new state;
// then, on the worker pool, a due notice (bounce, delay warning, success) is built (queue/dsn)
// and handed to the message sink like received mail (a local sender finds it in its Maildir, a
// remote one gets it through this queue), and only then is the envelope rewritten or the item
// removed: a crash in between repeats a notice, never loses one.
//
// Ownership: one item is worked on by one delivery at a time (busy), so the store's calls for an
// item never overlap. A message with recipients at several destinations is carried to them one
// after the other.
//
// Start-up (docs/outbound.md "Start-up"): open() surveys the queue directory (listings only)
// before the server listens; start() then reads the envelopes on the worker pool in chunks and
// files each chunk on the event loop, while connections are served and new mail is queued. The
// survey fixes the set of items to load: an item submitted meanwhile has a name the survey
// never saw, so no item is added twice.
//
// Memory: an item whose next attempt is more than a minute away is kept "parked", as its
// envelope's text (what the file holds), and decoded again when it is due, flushed by ETRN or
// taken for delivery: a million deferred messages cost ~0.5 KiB each instead of ~1.4.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <tl/expected.hpp>

#include "events/observer.hpp"
#include "net/outbound_config.hpp"
#include "net/outbound_connection.hpp"
#include "policy/recipient_policy.hpp"
#include "queue/attempt.hpp"
#include "queue/census.hpp"
#include "queue/destination_stats.hpp"
#include "queue/destination_view.hpp"
#include "queue/inflight.hpp"
#include "queue/listing.hpp"
#include "store/delivery_history.hpp"
#include "store/message_sink.hpp"
#include "store/queue_store.hpp"

namespace taube::net {

class Resolver;

class QueueRunner {
 public:
  // `recipients`: what a bounce's or a forward's recipient is (local, relayed, refused); shared
  // with the configuration generation it belongs to, replaced by reconfigure().
  QueueRunner(asio::io_context& io, const OutboundConfig& config, std::string hostname,
              asio::thread_pool& pool, store::QueueStore& store, store::MessageSink& notices,
              std::shared_ptr<const policy::RecipientPolicy> recipients, events::Observer& observer,
              sasl::ClientCrypto* sasl_crypto);
  ~QueueRunner();

  // A reload (SIGHUP): routing, limits, retry times, timeouts and credentials apply to the
  // attempts started from now on (and the destinations' limits at once); attempts in flight
  // finish with what they started with. The queue's place, its journal and the control socket
  // are fixed at start (the caller keeps those fields as they were).
  void reconfigure(const OutboundConfig& config,
                   std::shared_ptr<const policy::RecipientPolicy> recipients);

  // The resolver for MX delivery (may stay unset: MX routes then defer).
  void set_resolver(Resolver* r) { resolver_ = r; }
  // Our listeners: a next hop that leads back to one of them is a loop (5.4.6).
  void set_self_endpoints(std::vector<asio::ip::tcp::endpoint> e) {
    self_endpoints_ = std::move(e);
  }
  // Start-up, before start(): surveys the queue directory (blocking, but listings only: see
  // QueueStore::survey); start() loads the items it found in the background.
  tl::expected<void, std::string> open();
  // Every item of the survey is on the timeline (the "queue ... loaded" log line).
  bool loaded() const { return loaded_; }
  void start();
  // No new attempts; connections finish their current message and close, within `grace`: then
  // the connections still open are closed under their transactions (the unanswered recipients
  // stay queued; those whose data was out are logged as possible duplicates).
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(30));
  bool idle() const { return active_ == 0; }

  // A new durable item (from the spool sink, on a worker thread): scheduled at once. `content`
  // (may be null) is its message, kept for the first attempt within a memory budget.
  void submit(const std::string& name, const queue::QueueEnvelope& env,
              std::shared_ptr<const std::string> content = nullptr);
  // ETRN (RFC 1985): everything queued for `domain` is due now. Returns how many recipients.
  std::size_t flush_domain(const std::string& domain);

  std::size_t size() const { return items_.size(); }

  // Administration (`taube queue` over the control socket, docs/queue-control.md); on the event
  // loop. `id` is a queue id or a queue file name. Each action is logged like Postfix's
  // postsuper ("QUEUEID: placed on hold", ...).
  enum class AdminResult { Done, NotFound, Busy, Unchanged, Failed };
  // Every item, as it stands (parked ones decoded for the listing, not kept decoded); sizes from
  // the envelope's SIZE (the stored size since the queue records it).
  std::vector<queue::ListedItem> list();
  std::optional<queue::ListedItem> find(const std::string& id);
  // One page of list()'s order (oldest first) filtered, for the web console. Parked items are
  // not decoded unless a filter needs it and queue::may_match() cannot rule them out: only the
  // page's items are. The scan lets the event loop run every few thousand items, so a page of
  // a million-item queue does not hold up the SMTP sessions (visit_all()).
  asio::awaitable<queue::ListPage> page(const queue::ListFilter& filter, std::size_t page,
                                        std::size_t per_page);
  // Counts for the console's overview, by the same sliced scan.
  struct Summary {
    std::map<std::string, std::size_t> by_queue;  // queue_name() -> messages
    std::size_t recipients = 0;                   // still to deliver
    std::int64_t oldest_arrival = 0;              // 0: empty
  };
  asio::awaitable<Summary> summary();
  std::string transcript_of(const std::string& name) { return store_.read_transcript(name); }
  // The message's header section (its first 64 KiB at most), for the web console. Blocking,
  // like transcript_of: call it on the worker pool.
  std::string headers_of(const std::string& name);
  asio::awaitable<AdminResult> hold(const std::string& id);
  asio::awaitable<AdminResult> release(const std::string& id);
  // Deletes without a notice (postsuper -d).
  asio::awaitable<AdminResult> remove(const std::string& id);
  // Due now, its route worked out again under the current configuration (postsuper -r).
  AdminResult requeue(const std::string& id);
  // Returned to the sender now (postsuper -e): every queued recipient fails as expired.
  asio::awaitable<AdminResult> bounce(const std::string& id);
  // What bounce(id) would send now, changing nothing (queue_preview.cpp): Done with the notice,
  // Unchanged with why none would be sent, NotFound, Failed (the DSN cannot be built).
  struct BouncePreview {
    AdminResult result = AdminResult::NotFound;
    std::string why;
    std::string sender;                   // the notice's recipient
    std::vector<std::string> recipients;  // reported as failed
    std::string message;                  // the DSN, LF line endings
  };
  asio::awaitable<BouncePreview> preview_bounce(const std::string& id);
  // Everything due now (postqueue -f); the hold-back of every destination ends.
  std::size_t flush_all();

  // Read-only, for the metrics gauges: connections being opened (connect, TLS, greeting, EHLO)
  // and those open, by TLS version ("" for plaintext). At most max_connections entries.
  struct ConnectionCounts {
    std::size_t opening = 0;
    std::map<std::string, std::size_t> open_by_tls;
  };
  ConnectionCounts connection_counts() const {
    ConnectionCounts c;
    c.opening = opening_.size();
    for (const OutboundConnection* conn : open_) ++c.open_by_tls[conn->tls_version()];
    return c;
  }
  // Read-only, for the metrics gauges: messages per state (incoming, active, deferred, hold)
  // and the oldest of each, kept as items change state (queue/census.hpp), so a scrape costs
  // nothing however long the queue.
  const queue::QueueCensus& census() const { return census_; }
  // The Destinations view (docs/console.md, `taube queue destinations`): a row per destination
  // with mail queued for it, a DestinationState, or a history; unsorted. The queue's shape comes
  // from a sliced scan (visit_all(), as summary()), parked items read without decoding
  // (queue::peek_queued_domains); the scheduling state and the history as they are at the end.
  asio::awaitable<std::vector<queue::DestinationRow>> destinations();
  // The attempts' history per destination (for the view's counts of what is tracked).
  const queue::DestinationStats& destination_stats() const { return stats_; }
  // The queue's store, for its commit counts (metrics).
  const store::QueueStore& store() const { return store_; }
  // The history of finished deliveries (queue_history.cpp, docs/console.md "Deliveries"); null
  // when [queue] history_size_mb is 0 or it could not be opened. Its calls block: on the pool.
  store::DeliveryHistory* history() const { return history_.get(); }

 private:
  struct Entry;
  // Due time -> item. Entries point into items_ (an unordered_map's nodes never move) and each
  // item knows its own entry, so there are no stale entries to skip.
  using Timeline = std::multimap<std::int64_t, Entry*>;
  // What the delivery history records of the attempt being committed (queue_history.cpp).
  struct AttemptFacts {
    bool attempted = false;  // an attempt (not an expiry or an administrator's bounce)
    std::string host, address;
    bool tls = false;
    double seconds = 0;
  };
  // An item being scheduled or delivered: what the attempt code works on.
  struct Item {
    Item(const std::string& n, queue::QueueEnvelope e, Entry* en)
        : name(n), env(std::move(e)), entry(en) {}
    const std::string& name;  // the key in items_
    queue::QueueEnvelope env;
    bool busy = false;
    Entry* entry;
    // The message as submitted, until the first attempt is over (then read from the file).
    std::shared_ptr<const std::string> content;
    AttemptFacts facts;  // of the attempt being committed, for the delivery history
  };
  // One per queued item, the value in items_: live (decoded) or parked (the envelope's text).
  struct Entry {
    Entry(Timeline& t, queue::QueueCensus& c) : timeline(&t), filed(t.end()), census(&c) {}
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() {
      if (filed != timeline->end()) timeline->erase(filed);
      census->remove(counted);
    }
    const std::string* name = nullptr;  // the key
    std::unique_ptr<Item> live;
    std::string parked;  // encode_envelope() text while `live` is null
    Timeline* timeline;
    Timeline::iterator filed;  // timeline->end(): not filed
    queue::QueueCensus* census;
    queue::CensusSlot counted;  // what census counts this item as
  };
  // One chunk of the start-up load, read on a worker thread.
  struct Loaded {
    std::string name, text;
    std::int64_t due = -1;
    queue::CensusSlot state;  // its state as loaded (not counted yet)
  };
  // Submitted content kept in memory at most (beyond it, attempts read the file).
  static constexpr std::size_t kContentBudget = 64 * 1024 * 1024;
  struct Destination {
    queue::Nexthop hop;
    queue::DestinationState state;
    std::uint32_t active = 0;
    std::deque<std::string> ready;  // items with recipients due here
    std::unordered_set<std::string> queued;
    std::vector<asio::steady_timer*> idle_waiters;
    std::int64_t plaintext_until = 0;  // TLS handshake failed: plaintext until then
  };

  tl::expected<void, std::string> open_journal();
  // The entry of queue id or file name `id` (null if none).
  Entry* entry_of(const std::string& id);
  queue::ListedItem listed(const std::string& name, const queue::QueueEnvelope& env,
                           bool active) const;
  // Writes the envelope of an item taken out of scheduling (busy) and files it again.
  asio::awaitable<bool> rewrite(Item& item);
  // Every item to `visit`, bucket by bucket, yielding to the event loop between slices. Items
  // erased meanwhile are not visited, new ones may or may not be; a rehash (the map grew)
  // moves the buckets, so the scan starts again after `reset()` (without yielding after the
  // third time).
  asio::awaitable<void> visit_all(const std::function<void()>& reset,
                                  const std::function<void(const std::string&, Entry&)>& visit);
  void add(std::string name, queue::QueueEnvelope env);
  void report_inflight(const std::string& name, const std::string& envelope_text);
  void file(Item& item);  // onto the timeline at its next due time (parked later if far)
  void unfile(Entry& e);
  // The decoded item (decoding a parked one); null if its text no longer decodes.
  Item* live(Entry& e);
  void park_later(const std::string& name);
  void park_candidates();
  // Start-up load (see the class comment): chunks read on the pool, filed on the event loop.
  void load_chunk(std::size_t from);
  void adopt(std::vector<Loaded>& batch, const std::vector<std::string>& notes);
  void finish_load();
  void schedule();  // due items to their destinations, connections opened, timer set
  void dispatch(std::int64_t now);
  void wake_idle(Destination& d);
  // `key` is the destination's key in destinations_ (a std::map: the reference stays valid).
  // GCC 12 rule of src/net/transport.hpp: no non-trivial by-value coroutine parameters.
  asio::awaitable<void> deliver(const std::string& key);
  // The outbound_opened event of one OutboundConnection::open (conn null: it failed).
  void report_opened(const OutboundTarget& target, const OutboundConnection* conn,
                     OpenResult result, const std::string& error,
                     std::chrono::steady_clock::time_point started);
  asio::awaitable<void> timer_loop();
  // Takes the next item with recipients due at `key`, marks it busy; "" when none.
  std::string take_ready(Destination& d);
  // The recipients of `item` due at destination `key` (at most max_recipients).
  std::vector<std::size_t> due_recipients(const Item& item, const std::string& key,
                                          std::int64_t now) const;
  asio::awaitable<void> transact(Item& item, const std::vector<std::size_t>& rcpts,
                                 OutboundConnection& conn, double setup_seconds);
  // Records the outcome for these recipients (all the same), e.g. no connection possible.
  asio::awaitable<void> fail_all(Item& item, const std::vector<std::size_t>& rcpts,
                                 queue::AttemptOutcome outcome, const std::string& reply,
                                 const std::string& relay);
  asio::awaitable<void> expire(Item& item);
  // Writes the outcome: notices queued first, then the envelope rewritten or the item removed;
  // then the log lines, and the item is free again.
  asio::awaitable<void> commit_applied(Item& item, queue::QueueEnvelope& updated,
                                       queue::AppliedAttempt& applied,
                                       const std::string& transcript, double setup_seconds,
                                       double transmit_seconds);
  void done_with(Item& item, bool finished);
  // The delivery history's side of a commit (queue_history.cpp), in its job on the pool:
  // records of the recipients that finished, attempts of those still queued. `content` is the
  // message if in memory (for its Message-ID), else it is read (before the item is removed).
  void open_history();
  void record_history(const std::string& name, const queue::QueueEnvelope& env,
                      const queue::AppliedAttempt& applied, const AttemptFacts& facts,
                      const std::string* content, std::int64_t t);
  // Records of the queued recipients of an item the administrator deleted (on the pool).
  void record_deleted(const std::string& name, const queue::QueueEnvelope& env, std::int64_t t,
                      const std::string& message_id);
  std::string message_id_in(const std::string& name);  // of the queue file (on the pool)
  // Marks an item taken (or freed) by an attempt or an action, and counts its state anew.
  void set_busy(Item& item, bool busy) {
    item.busy = busy;
    census_.set(item.entry->counted, item.env, busy);
  }
  // Soon after removals, one flush so that their envelopes can go (QueueStore::tidy): a queue
  // that has gone quiet is left empty on disk.
  void tidy_soon();
  // One attempt's outcome at destination `key` into stats_ (queue_destinations.cpp), `n` times.
  void note_outcome(const std::string& key, queue::AttemptKind kind, std::size_t n,
                    std::string_view error);
  // How a failed opening counts: a TLS failure or a connection error.
  void note_open_failure(const std::string& key, OpenResult result,
                         const std::optional<smtp::client::SessionFailure>& failure,
                         const std::string& error);

  std::int64_t now() const;
  double random01();
  queue::DestinationPolicy destination_policy() const;
  smtp::client::ClientConfig client_config(const Destination& d, bool plaintext) const;

  asio::io_context& io_;
  OutboundConfig cfg_;
  std::string hostname_;
  asio::thread_pool& pool_;
  store::QueueStore& store_;
  store::MessageSink& notices_;
  std::shared_ptr<const policy::RecipientPolicy> recipients_;
  events::Observer& observer_;
  Resolver* resolver_ = nullptr;
  std::vector<asio::ip::tcp::endpoint> self_endpoints_;
  sasl::ClientCrypto* sasl_crypto_;
  std::shared_ptr<asio::ssl::context> tls_;

  queue::QueueCensus census_;  // before items_: their entries leave it when destroyed
  Timeline timeline_;          // before items_: their entries unfile themselves when destroyed
  std::unordered_map<std::string, Entry> items_;
  std::vector<std::string> to_park_;
  bool park_posted_ = false;
  // ETRN for an item that is busy: applied when the attempt is done (the attempt's result
  // replaces the envelope it started from).
  std::unordered_map<std::string, std::vector<std::string>> pending_flush_;
  // The start-up load.
  std::vector<std::string> to_load_;
  std::vector<std::string> flushed_while_loading_;
  std::chrono::steady_clock::time_point load_started_;
  std::atomic<bool> load_stop_{false};
  std::size_t loaded_count_ = 0;
  bool loaded_ = false;
  std::map<std::string, Destination> destinations_;
  queue::DestinationStats stats_;  // attempts' outcomes per destination (bounded)
  asio::steady_timer timer_;
  asio::steady_timer tidy_timer_;
  asio::steady_timer grace_timer_;
  std::unordered_set<OutboundConnection*> open_;  // connections carrying messages
  // Connections being opened (connect, TLS, greeting, EHLO): each one's cut handle.
  std::unordered_set<std::function<void()>*> opening_;
  bool tidy_armed_ = false;
  std::uint32_t active_ = 0;
  std::size_t content_bytes_ = 0;  // held by Item::content
  // The previous run's in-flight marks, by item, until the load has seen the item.
  std::unordered_map<std::string, std::vector<queue::InflightMark>> inflight_marks_;
  bool started_ = false, stopping_ = false;
  std::unique_ptr<store::DeliveryHistory> history_;
  std::atomic<bool> history_warned_{false};  // one warning for failed history writes
  std::mt19937_64 rng_;
};

}  // namespace taube::net
