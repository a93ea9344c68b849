#include "net/resolver.hpp"

#include <unbound.h>

#include <unordered_map>

#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

namespace {

constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;
constexpr int kClassIn = 1;

// What one query gave, before it is read as MX or addresses.
struct Raw {
  dns::Rcode rcode = dns::Rcode::ServFail;
  std::vector<std::vector<std::uint8_t>> rdata;
  std::string reason;
};

std::string rcode_text(int rcode) {
  switch (rcode) {
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return "rcode " + std::to_string(rcode);
  }
}

}  // namespace

// One query in flight. Owned by the Impl's table while unbound may still call back, and by the
// coroutine waiting for it. `event` is a timer used as the completion signal: it expires at the
// deadline and is cancelled when the answer arrives (or on cancel_all).
struct Query {
  explicit Query(const asio::any_io_executor& ex) : event(ex) {}
  asio::steady_timer event;
  Resolver::Impl* owner = nullptr;  // valid while !done && !cancelled
  int id = 0;
  bool done = false;       // `raw` holds the answer
  bool cancelled = false;  // cancel_all() or the resolver's end
  std::chrono::milliseconds timeout{};
  std::string what;  // "MX example.org", for the timeout reason
  Raw raw;
};

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  Impl(asio::io_context& context, ub_ctx* c, std::chrono::milliseconds t)
      : io(context), ctx(c), fd(context), timeout(t) {
    asio::error_code ignored;
    fd.assign(ub_fd(ctx), ignored);
  }
  ~Impl() { close(); }

  asio::io_context& io;
  ub_ctx* ctx;
  asio::posix::stream_descriptor fd;
  std::chrono::milliseconds timeout;
  bool armed = false;
  std::unordered_map<Query*, std::shared_ptr<Query>> pending;

  std::shared_ptr<Query> start(const std::string& name, int type, const char* type_name) {
    auto q = std::make_shared<Query>(io.get_executor());
    q->timeout = timeout;
    q->what = std::string(type_name) + " " + name;
    if (!ctx) {
      q->done = true;
      q->raw.reason = "resolver closed";
      return q;
    }
    q->owner = this;
    q->event.expires_after(timeout);
    pending.emplace(q.get(), q);
    int id = 0;
    const int rc = ub_resolve_async(ctx, name.c_str(), type, kClassIn, q.get(), &on_answer, &id);
    if (rc != 0) {
      pending.erase(q.get());
      q->done = true;
      q->raw.reason = std::string("cannot start the lookup: ") + ub_strerror(rc);
      return q;
    }
    q->id = id;
    arm();
    return q;
  }

  // Waits for the pipe only while something is pending, so an idle resolver does not keep
  // io_context::run() from returning.
  void arm() {
    if (armed || pending.empty() || !ctx) return;
    armed = true;
    fd.async_wait(asio::posix::stream_descriptor::wait_read,
                  [w = weak_from_this()](const asio::error_code& ec) {
                    auto self = w.lock();
                    if (!self) return;
                    self->armed = false;
                    if (!self->ctx) return;
                    if (!ec) ub_process(self->ctx);  // runs on_answer for what arrived
                    self->arm();
                  });
  }

  void idle_check() {
    asio::error_code ignored;
    if (pending.empty() && armed && fd.is_open()) fd.cancel(ignored);
  }

  static void on_answer(void* arg, int err, ub_result* result) {
    auto* q = static_cast<Query*>(arg);
    Raw& raw = q->raw;
    if (err != 0) {
      raw = {dns::Rcode::ServFail, {}, ub_strerror(err)};
    } else if (result->bogus) {
      raw = {dns::Rcode::ServFail,
             {},
             std::string("DNSSEC validation failed: ") +
                 (result->why_bogus ? result->why_bogus : "bogus")};
    } else if (result->rcode == 3 || result->nxdomain) {
      raw = {dns::Rcode::NxDomain, {}, "NXDOMAIN"};
    } else if (result->rcode != 0) {
      raw = {dns::Rcode::ServFail, {}, rcode_text(result->rcode)};
    } else {
      raw.rcode = dns::Rcode::Ok;
      for (int i = 0; result->havedata && result->data[i]; ++i) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(result->data[i]);
        raw.rdata.emplace_back(p, p + result->len[i]);
      }
    }
    if (result) ub_resolve_free(result);
    q->done = true;
    q->event.cancel();
    Impl* self = q->owner;
    self->pending.erase(q);  // the waiting coroutine still holds the query
    self->idle_check();
  }

  // The deadline passed before the answer: unbound must forget the query.
  void expire(Query& q) {
    ub_cancel(ctx, q.id);
    q.cancelled = true;
    pending.erase(&q);
    idle_check();
  }

  void cancel_all() {
    for (auto& [p, q] : pending) {
      if (ctx) ub_cancel(ctx, q->id);
      q->cancelled = true;
      q->event.cancel();
    }
    pending.clear();
    idle_check();
  }

  void close() {
    cancel_all();
    if (!ctx) return;
    // The descriptor is unbound's: release it instead of closing it (this also cancels the
    // wait, whose handler then finds the resolver gone or closed).
    if (fd.is_open()) fd.release();
    armed = false;
    ub_ctx_delete(ctx);  // joins unbound's worker thread
    ctx = nullptr;
  }
};

namespace {

// Never touches the Impl after the suspension unless the query is still live (then the Impl is
// too: its end would have cancelled the query).
asio::awaitable<Raw> wait(const std::shared_ptr<Query>& q) {
  if (!q->done && !q->cancelled) co_await q->event.async_wait(as_tuple(use_awaitable));
  if (q->done) co_return q->raw;
  if (q->cancelled) co_return Raw{dns::Rcode::ServFail, {}, "cancelled"};
  q->owner->expire(*q);
  const auto ms = q->timeout.count();
  const std::string after =
      ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
  co_return Raw{dns::Rcode::ServFail, {}, "timeout after " + after + " (" + q->what + ")"};
}

dns::MxAnswer to_mx(const Raw& raw) {
  dns::MxAnswer a{raw.rcode, {}, raw.reason};
  if (raw.rcode != dns::Rcode::Ok) return a;
  for (const auto& rd : raw.rdata) {
    auto r = dns::parse_mx_rdata(rd);
    if (!r) return {dns::Rcode::ServFail, {}, "malformed MX record"};
    a.records.push_back(std::move(*r));
  }
  return a;
}

dns::AddressAnswer to_addresses(const Raw& raw, bool ipv6) {
  dns::AddressAnswer a{raw.rcode, {}, raw.reason};
  if (raw.rcode != dns::Rcode::Ok) return a;
  for (const auto& rd : raw.rdata) {
    auto addr = dns::parse_address_rdata(rd, ipv6);
    if (!addr)
      return {dns::Rcode::ServFail, {}, ipv6 ? "malformed AAAA record" : "malformed A record"};
    a.addresses.push_back(*addr);
  }
  return a;
}

asio::awaitable<dns::MxAnswer> lookup_mx(const std::shared_ptr<Resolver::Impl>& impl,
                                         const std::string& domain) {
  const auto q = impl->start(domain, kTypeMx, "MX");
  const Raw raw = co_await wait(q);
  co_return to_mx(raw);
}

asio::awaitable<std::vector<dns::HostAddresses>> lookup_hosts(
    const std::shared_ptr<Resolver::Impl>& impl, const std::vector<std::string>& hosts,
    dns::FamilyPreference family) {
  // Start everything, then collect in order: the queries run in parallel in unbound.
  std::vector<std::pair<std::shared_ptr<Query>, std::shared_ptr<Query>>> queries;
  for (const auto& h : hosts) {
    std::shared_ptr<Query> v6, v4;
    if (dns::wants_ipv6(family)) v6 = impl->start(h, kTypeAaaa, "AAAA");
    if (dns::wants_ipv4(family)) v4 = impl->start(h, kTypeA, "A");
    queries.emplace_back(std::move(v6), std::move(v4));
  }
  std::vector<dns::HostAddresses> out(hosts.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    out[i].first = {dns::Rcode::Ok, {}, ""};
    out[i].second = {dns::Rcode::Ok, {}, ""};
    if (queries[i].first) {
      const Raw raw = co_await wait(queries[i].first);
      out[i].first = to_addresses(raw, true);
    }
    if (queries[i].second) {
      const Raw raw = co_await wait(queries[i].second);
      out[i].second = to_addresses(raw, false);
    }
  }
  co_return out;
}

}  // namespace

tl::expected<std::unique_ptr<Resolver>, std::string> Resolver::create(
    asio::io_context& io, const std::vector<std::string>& servers) {
  ResolverOptions o;
  o.servers = servers;
  return create(io, o);
}

tl::expected<std::unique_ptr<Resolver>, std::string> Resolver::create(
    asio::io_context& io, const ResolverOptions& options) {
  std::vector<std::string> forwarders;
  for (const auto& s : options.servers) {
    auto parsed = dns::parse_server(s);
    if (!parsed) return tl::unexpected("invalid DNS server \"" + s + "\"");
    // unbound's forward-addr syntax: address@port.
    forwarders.push_back(parsed->address.to_string() + "@" + std::to_string(parsed->port));
  }
  ub_ctx* ctx = ub_ctx_create();
  if (!ctx) return tl::unexpected(std::string("cannot create the unbound context"));
  auto fail = [&](const std::string& what, int rc) {
    ub_ctx_delete(ctx);
    return tl::unexpected(what + ": " + ub_strerror(rc));
  };
  // A thread, not the default forked process: no second process holding our descriptors.
  if (int rc = ub_ctx_async(ctx, 1); rc != 0) return fail("unbound async mode", rc);
  // Loopback upstreams (tests, a local caching resolver such as 127.0.0.53) are refused by
  // default.
  if (int rc = ub_ctx_set_option(ctx, "do-not-query-localhost:", "no"); rc != 0)
    return fail("unbound do-not-query-localhost", rc);
  if (forwarders.empty()) {
    if (int rc = ub_ctx_resolvconf(ctx, nullptr); rc != 0) return fail("/etc/resolv.conf", rc);
  } else {
    for (const auto& f : forwarders)
      if (int rc = ub_ctx_set_fwd(ctx, f.c_str()); rc != 0) return fail("DNS server " + f, rc);
    // unbound answers the RFC 6761 special-use names (.test, .example, .invalid) NXDOMAIN itself.
    // With servers configured by the operator (a lab, a split-horizon resolver, the test suite's
    // server), those servers decide about .test and .example too.
    for (const char* zone : {"test. transparent", "example. transparent"})
      if (int rc = ub_ctx_set_option(ctx, "local-zone:", zone); rc != 0)
        return fail(std::string("unbound local-zone ") + zone, rc);
  }
  // ub_fd() finalizes the configuration; a bad one shows here.
  if (ub_fd(ctx) < 0) {
    ub_ctx_delete(ctx);
    return tl::unexpected(std::string("unbound: no result descriptor"));
  }
  auto impl = std::make_shared<Impl>(io, ctx, options.query_timeout);
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Resolver::~Resolver() {
  // Lookups still running hold impl_; close it now so they end with "cancelled".
  impl_->close();
}

asio::awaitable<dns::MxAnswer> Resolver::mx(const std::string& domain) {
  const std::shared_ptr<Impl> impl = impl_;
  co_return co_await lookup_mx(impl, domain);
}

asio::awaitable<dns::AddressAnswer> Resolver::addresses(const std::string& host, bool ipv6) {
  const std::shared_ptr<Impl> impl = impl_;
  const auto q = ipv6 ? impl->start(host, kTypeAaaa, "AAAA") : impl->start(host, kTypeA, "A");
  const Raw raw = co_await wait(q);
  co_return to_addresses(raw, ipv6);
}

asio::awaitable<std::vector<dns::HostAddresses>> Resolver::host_addresses(
    const std::vector<std::string>& hosts, dns::FamilyPreference family) {
  const std::shared_ptr<Impl> impl = impl_;
  co_return co_await lookup_hosts(impl, hosts, family);
}

void Resolver::cancel_all() {
  impl_->cancel_all();
}

std::size_t Resolver::pending() const {
  return impl_->pending.size();
}

asio::awaitable<dns::RoutePlan> resolve_route(Resolver& resolver, const std::string& domain,
                                              const RouteOptions& options,
                                              const std::function<double()>& random01) {
  if (auto literal = dns::plan_literal(domain, options.family, options.self_addresses))
    co_return *literal;
  // Our own reference: the resolver may be destroyed while this runs.
  const std::shared_ptr<Resolver::Impl> impl = resolver.impl_;
  const dns::MxAnswer mx = co_await lookup_mx(impl, domain);
  dns::HostOrder order = dns::order_mx(domain, mx, options.self_names, random01);
  std::vector<dns::HostAddresses> per_host;
  if (order.status == dns::PlanStatus::Ok) {
    if (order.hosts.size() > options.max_hosts) order.hosts.resize(options.max_hosts);
    std::vector<std::string> names;
    for (const auto& h : order.hosts) names.push_back(h.name);
    per_host = co_await lookup_hosts(impl, names, options.family);
  }
  co_return dns::plan_targets(order, per_host, options.family, options.max_addresses,
                              options.self_addresses);
}

}  // namespace taube::net
