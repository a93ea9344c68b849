#include "store/maildir_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace taube::store {

MaildirWriter::MaildirWriter(MaildirStore& store, std::vector<std::string> maildirs,
                             JournaledDelivery* journal, std::string provisional_prefix,
                             Publish publish)
    : store_(store),
      maildirs_(std::move(maildirs)),
      journal_(journal),
      provisional_(std::move(provisional_prefix)),
      publish_(std::move(publish)) {}

MaildirWriter::~MaildirWriter() {
  abort();
}

tl::expected<void, StoreError> MaildirWriter::start(std::string_view head) {
  auto m = store_.begin(maildirs_);
  if (!m) return tl::unexpected(m.error());
  msg_.emplace(std::move(*m));
  if (head.empty()) return {};
  return msg_->write(head);
}

void MaildirWriter::flush() {
  if (error_ || done_) {
    buffer_.clear();
    return;
  }
  if (!msg_) {
    if (auto r = start(provisional_); !r) error_ = r.error();
  }
  if (!error_ && !buffer_.empty()) {
    if (auto w = msg_->write(buffer_); !w) error_ = w.error();
  }
  buffer_.clear();
}

tl::expected<void, StoreError> MaildirWriter::rewrite_with(std::string_view prefix) {
  // The content after the provisional prefix, copied into a new file behind the final prefix.
  std::optional<MaildirStore::Message> old = std::move(msg_);
  msg_.reset();
  if (auto r = start(prefix); !r) {
    store_.abort(*old);
    return r;
  }
  Fs& fs = store_.fs();
  std::string chunk(64 * 1024, '\0');
  auto off = static_cast<off_t>(provisional_.size());
  while (true) {
    const ssize_t n = fs.pread(old->file().fd(), chunk.data(), chunk.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      store_.abort(*old);
      return tl::unexpected(error_from_errno(errno));
    }
    if (n == 0) break;
    if (auto w = msg_->write(std::span<const char>(chunk.data(), static_cast<std::size_t>(n)));
        !w) {
      store_.abort(*old);
      return w;
    }
    off += n;
  }
  store_.abort(*old);
  return {};
}

tl::expected<void, StoreError> MaildirWriter::publish() {
  return publish_ ? publish_(*msg_) : store_.commit(*msg_);
}

CommitOutcome MaildirWriter::commit(std::string_view prefix) {
  if (done_) return {StoreError::Io, {}};
  tl::expected<void, StoreError> r;
  if (error_) {
    r = tl::unexpected(*error_);
  } else if (!msg_) {
    // Everything is still in memory: one write, then the journal or the direct path.
    std::string content;
    content.reserve(prefix.size() + buffer_.size());
    content.append(prefix).append(buffer_);
    buffer_.clear();
    r = start(content);
    if (r && journal_ && !publish_ && journal_->accept(msg_, content)) {
      done_ = true;
      return {};  // durable in the journal; msg_ was taken over
    }
  } else {
    flush();
    r = error_ ? tl::expected<void, StoreError>(tl::unexpected(*error_))
               : tl::expected<void, StoreError>();
    if (r && prefix != provisional_) r = rewrite_with(prefix);
  }
  if (r) r = publish();
  done_ = true;
  buffer_.clear();
  if (!r) {
    if (msg_) store_.abort(*msg_);
    msg_.reset();
    return {r.error(), {}};
  }
  msg_.reset();
  return {};
}

void MaildirWriter::abort() {
  done_ = true;
  buffer_.clear();
  if (msg_) store_.abort(*msg_);
  msg_.reset();
}

std::unique_ptr<MessageWriter> MaildirSink::begin(const MessageInfo& info,
                                                  std::string provisional_prefix) {
  std::vector<std::string> dirs;
  for (const auto& r : info.envelope.recipients)
    for (const auto& d : r.destinations)
      if (d.route == smtp::Destination::Route::Mailbox &&
          std::find(dirs.begin(), dirs.end(), d.target) == dirs.end())
        dirs.push_back(d.target);
  return std::make_unique<MaildirWriter>(store_, std::move(dirs), journal_,
                                         std::move(provisional_prefix));
}

}  // namespace taube::store
