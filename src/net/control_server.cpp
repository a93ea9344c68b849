#include "net/control_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "net/blocking_pool.hpp"
#include "net/queue_runner.hpp"
#include "net/unix_acceptor.hpp"
#include "queue/destination_view.hpp"
#include "queue/listing.hpp"
#include "queue/transcript_log.hpp"

namespace taube::net {

using asio::use_awaitable;
using asio::experimental::as_tuple;

namespace {

constexpr std::size_t kMaxRequest = 64 * 1024;
constexpr std::chrono::seconds kRequestTimeout{10};

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

const char* verb_of(const std::string& command) {
  if (command == "hold") return "placed on hold";
  if (command == "release") return "released from hold";
  if (command == "delete") return "deleted";
  if (command == "requeue") return "requeued";
  return "returned to the sender";
}

}  // namespace

tl::expected<ControlRequest, std::string> parse_control_request(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ControlRequest r;
  std::string word;
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return tl::unexpected(std::string("control character in request"));
    if (c == ' ') {
      if (!word.empty()) (r.command.empty() ? r.command : r.args.emplace_back()) = std::move(word);
      word.clear();
      continue;
    }
    word += c;
  }
  if (!word.empty()) (r.command.empty() ? r.command : r.args.emplace_back()) = std::move(word);
  if (r.command.empty()) return tl::unexpected(std::string("empty request"));
  return r;
}

ControlServer::ControlServer(asio::io_context& io, asio::thread_pool& pool, std::string path,
                             QueueRunner& runner)
    : io_(io), pool_(pool), path_(std::move(path)), runner_(runner) {}

ControlServer::~ControlServer() {
  close();
}

tl::expected<void, std::string> ControlServer::open() {
  // Root and the taube group: the queue's administrators.
  auto a = open_unix_acceptor(io_, path_, "control socket", 0660, 16);
  if (!a) return tl::unexpected(a.error());
  acceptor_ = std::move(*a);
  return {};
}

void ControlServer::start() {
  if (!acceptor_) return;
  asio::co_spawn(io_, accept_loop(), asio::detached);
}

void ControlServer::close() {
  if (closing_) return;
  closing_ = true;
  if (acceptor_) {
    asio::error_code ec;
    acceptor_->close(ec);
    ::unlink(path_.c_str());
  }
}

asio::awaitable<void> ControlServer::accept_loop() {
  while (!closing_) {
    auto [ec, sock] = co_await acceptor_->async_accept(as_tuple(use_awaitable));
    if (ec) {
      if (closing_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    // GCC 12: no by-value coroutine parameters of non-trivial types (src/net/transport.hpp).
    auto entry = [this, s = std::make_unique<Socket>(std::move(
                            sock))]() mutable -> asio::awaitable<void> { co_await serve(s); };
    asio::co_spawn(io_, std::move(entry), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("control connection failed: {}", ex.what());
      }
    });
  }
}

asio::awaitable<void> ControlServer::serve(std::unique_ptr<Socket>& sock) {
  asio::steady_timer timer(io_);
  timer.expires_after(kRequestTimeout);
  timer.async_wait([&sock](asio::error_code e) {
    if (e) return;
    asio::error_code ignored;
    sock->close(ignored);
  });
  asio::streambuf buf(kMaxRequest);
  auto [ec, n] = co_await asio::async_read_until(*sock, buf, '\n', as_tuple(use_awaitable));
  timer.cancel();
  std::string reply;
  if (ec) {
    reply = ec == asio::error::not_found ? "error request too long\n" : std::string();
  } else {
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    auto req = parse_control_request(line);
    if (!req) {
      reply = "error " + req.error() + "\n";
    } else {
      reply = co_await run(*req);
    }
  }
  if (!reply.empty() && sock->is_open()) {
    const asio::const_buffer out = asio::buffer(reply);
    co_await asio::async_write(*sock, out, as_tuple(use_awaitable));
  }
  asio::error_code ignored;
  sock->shutdown(Socket::shutdown_both, ignored);
  sock->close(ignored);
}

asio::awaitable<std::string> ControlServer::run(const ControlRequest& req) {
  const std::string& c = req.command;
  if (c == "list" || c == "list-json") {
    const auto items = runner_.list();
    std::string body;
    if (c == "list") {
      body = queue::mailq_text(items);
    } else {
      for (const auto& i : items) body += queue::json_line(i);
    }
    co_return "ok\n" + body;
  }
  if (c == "show" || c == "why") {
    if (req.args.size() != 1) co_return "error usage: " + c + " ID\n";
    auto item = runner_.find(req.args[0]);
    if (!item) co_return "error " + req.args[0] + ": not in the queue\n";
    if (c == "why") co_return "ok\n" + queue::why_text(*item, unix_now());
    const std::string name = item->name;
    auto read = [this, &name] { return runner_.transcript_of(name); };
    const std::string transcript = co_await run_blocking(pool_, read);
    co_return "ok\n" + queue::show_text(*item, queue::last_attempt(transcript));
  }
  if (c == "dsn") {
    // The notice a bounce would send now (the console's preview): nothing changes.
    if (req.args.size() != 1) co_return std::string("error usage: dsn ID\n");
    const auto p = co_await runner_.preview_bounce(req.args[0]);
    switch (p.result) {
      case QueueRunner::AdminResult::Done:
        co_return "ok\n" + p.message;
      case QueueRunner::AdminResult::NotFound:
        co_return "error " + req.args[0] + ": not in the queue\n";
      case QueueRunner::AdminResult::Unchanged:
        co_return "error " + req.args[0] + ": no notice would be sent: " + p.why + "\n";
      default:
        co_return "error " + req.args[0] + ": cannot build the notice: " + p.why + "\n";
    }
  }
  if (c == "destinations" || c == "destinations-json") {
    // The console's Destinations view as a table (qshape's age columns, then health) or one
    // JSON object per line; the optional argument is the order (queue/destination_view.hpp).
    if (req.args.size() > 1) co_return "error usage: " + c + " [SORT]\n";
    const auto by = queue::parse_destination_sort(req.args.empty() ? "queued" : req.args[0]);
    if (!by)
      co_return "error unknown order \"" + req.args[0] + "\" (" +
          std::string(queue::kDestinationSorts) + ")\n";
    auto rows = co_await runner_.destinations();
    const std::int64_t t = unix_now();
    queue::sort_destinations(rows, *by, t);
    if (c == "destinations") co_return "ok\n" + queue::destinations_text(rows, t);
    std::string body;
    for (const auto& r : rows) body += queue::json_destination(r, t) + "\n";
    co_return "ok\n" + body;
  }
  if (c == "flush") {
    if (req.args.size() > 1) co_return std::string("error usage: flush [DOMAIN]\n");
    const std::size_t n =
        req.args.empty() ? runner_.flush_all() : runner_.flush_domain(req.args[0]);
    co_return "ok\n" + std::to_string(n) + " recipient(s) due now\n";
  }
  if (c == "hold" || c == "release" || c == "delete" || c == "requeue" || c == "bounce") {
    if (req.args.empty()) co_return "error usage: " + c + " ID [ID ...]\n";
    std::string body;
    bool all = true;
    for (const auto& id : req.args) {
      QueueRunner::AdminResult r = QueueRunner::AdminResult::NotFound;
      if (c == "hold") r = co_await runner_.hold(id);
      if (c == "release") r = co_await runner_.release(id);
      if (c == "delete") r = co_await runner_.remove(id);
      if (c == "requeue") r = runner_.requeue(id);
      if (c == "bounce") r = co_await runner_.bounce(id);
      switch (r) {
        case QueueRunner::AdminResult::Done:
          body += id + ": " + verb_of(c) + "\n";
          break;
        case QueueRunner::AdminResult::Unchanged:
          body += id + ": unchanged (" +
                  (c == "hold"      ? std::string("already on hold")
                   : c == "release" ? std::string("not on hold")
                                    : std::string("on hold, or nothing left to deliver")) +
                  ")\n";
          break;
        case QueueRunner::AdminResult::NotFound:
          body += id + ": not in the queue\n";
          all = false;
          break;
        case QueueRunner::AdminResult::Busy:
          body += id + ": being delivered right now; try again in a moment\n";
          all = false;
          break;
        case QueueRunner::AdminResult::Failed:
          body += id + ": failed (see the log)\n";
          all = false;
          break;
      }
    }
    co_return (all ? std::string("ok\n") : std::string("error some IDs failed\n")) + body;
  }
  co_return "error unknown command \"" + c +
      "\" (list, list-json, show, why, dsn, destinations, destinations-json, flush, hold, release, "
      "delete, requeue, bounce)\n";
}

}  // namespace taube::net
