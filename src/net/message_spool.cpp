#include "net/message_spool.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
  std::string relay_spool;
  std::string relay_envelope;

  // Runs on a worker thread. The envelope of relayed recipients, published before the message.
  tl::expected<std::string, store::StoreError> write_envelope() {
    const std::string env_dir = relay_spool + "/env";
    if (::mkdir(env_dir.c_str(), 0700) != 0 && errno != EEXIST)
      return tl::unexpected(store::error_from_errno(errno));
    auto f = store::DurableFile::create(store::posix_fs(),
                                        relay_spool + "/tmp/" + msg->unique_name() + ".env");
    if (!f) return tl::unexpected(f.error());
    const std::string final_path = env_dir + "/" + msg->unique_name();
    if (auto w = f->write(relay_envelope); !w) return tl::unexpected(w.error());
    if (auto p = f->publish({final_path}); !p) return tl::unexpected(p.error());
    return final_path;
  }

  // Runs on a worker thread. `keep`: the buffer stays (for the journal).
  void write_out(bool keep = false) {
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
    if (!keep) buf.clear();
  }
};

MessageSpool::MessageSpool(store::MaildirStore& store, asio::thread_pool& pool,
                           std::vector<std::string> maildirs, bool discard,
                           store::JournaledDelivery* journal)
    : s_(std::make_shared<Shared>(Shared{store, std::move(maildirs), {}, {}, {}, {}, {}})),
      pool_(pool),
      journal_(journal),
      discard_(discard) {}

MessageSpool::~MessageSpool() {
  abort();
}

void MessageSpool::set_relay(std::string spool_dir, std::string envelope) {
  s_->relay_spool = std::move(spool_dir);
  s_->relay_envelope = std::move(envelope);
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
  auto job = [s] {
    s->write_out();
    return 0;
  };
  co_await run_blocking(pool_, job);
}

asio::awaitable<tl::expected<void, store::StoreError>> MessageSpool::commit() {
  done_ = true;
  if (discard_) co_return tl::expected<void, store::StoreError>{};
  auto s = s_;
  // The journal takes messages whose content is still all in memory (none was flushed yet);
  // relayed mail goes to the outbound spool the direct way.
  store::JournaledDelivery* journal = s->msg || !s->relay_spool.empty() ? nullptr : journal_;
  auto job = [s, journal]() -> tl::expected<void, store::StoreError> {
    s->write_out(journal != nullptr);
    if (journal && !s->error) {
      const bool taken = journal->accept(s->msg, s->buf);
      s->buf.clear();
      if (taken) return {};
    }
    s->buf.clear();
    if (s->error) {
      if (s->msg) s->store.abort(*s->msg);
      return tl::unexpected(*s->error);
    }
    std::string env_path;
    if (!s->relay_spool.empty()) {
      auto env = s->write_envelope();
      if (!env) {
        s->store.abort(*s->msg);
        return tl::unexpected(env.error());
      }
      env_path = *env;
    }
    auto r = s->store.commit(*s->msg);
    if (!r) {
      s->store.abort(*s->msg);
      if (!env_path.empty()) ::unlink(env_path.c_str());
    }
    return r;
  };
  co_return co_await run_blocking(pool_, job);
}

void MessageSpool::abort() {
  if (done_) return;
  done_ = true;
  if (discard_ || !s_->msg) return;
  auto s = s_;
  asio::post(pool_, [s] { s->store.abort(*s->msg); });
}

}  // namespace taube::net
