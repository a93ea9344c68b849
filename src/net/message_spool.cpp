#include "net/message_spool.hpp"

#include <optional>

#include <asio/post.hpp>

#include "net/blocking_pool.hpp"

namespace taube::net {

struct MessageSpool::Shared {
  store::MaildirStore& store;
  std::vector<std::string> maildirs;
  std::optional<store::MaildirStore::Message> msg;
  std::string buf;
  std::optional<store::StoreError> error;

  // Runs on a worker thread.
  void write_out() {
    if (error) {
      buf.clear();
      return;
    }
    if (!msg) {
      auto m = store.begin(maildirs);
      if (!m) {
        error = m.error();
        buf.clear();
        return;
      }
      msg.emplace(std::move(*m));
    }
    if (!buf.empty()) {
      auto w = msg->write(buf);
      if (!w) error = w.error();
    }
    buf.clear();
  }
};

MessageSpool::MessageSpool(store::MaildirStore& store, asio::thread_pool& pool,
                           std::vector<std::string> maildirs, bool discard)
    : s_(std::make_shared<Shared>(Shared{store, std::move(maildirs), {}, {}, {}})),
      pool_(pool),
      discard_(discard) {}

MessageSpool::~MessageSpool() {
  abort();
}

void MessageSpool::append(std::string_view data) {
  if (discard_ || s_->error) return;
  s_->buf.append(data);
}

bool MessageSpool::needs_flush() const {
  return !discard_ && s_->buf.size() >= kFlushThreshold;
}

asio::awaitable<void> MessageSpool::flush() {
  if (discard_) co_return;
  auto s = s_;
  co_await run_blocking(pool_, [s] {
    s->write_out();
    return 0;
  });
}

asio::awaitable<tl::expected<void, store::StoreError>> MessageSpool::commit() {
  done_ = true;
  if (discard_) co_return tl::expected<void, store::StoreError>{};
  auto s = s_;
  co_return co_await run_blocking(pool_, [s]() -> tl::expected<void, store::StoreError> {
    s->write_out();
    if (s->error) {
      if (s->msg) s->store.abort(*s->msg);
      return tl::unexpected(*s->error);
    }
    auto r = s->store.commit(*s->msg);
    if (!r) s->store.abort(*s->msg);
    return r;
  });
}

void MessageSpool::abort() {
  if (done_) return;
  done_ = true;
  if (discard_ || !s_->msg) return;
  auto s = s_;
  asio::post(pool_, [s] { s->store.abort(*s->msg); });
}

}  // namespace taube::net
