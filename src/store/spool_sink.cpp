#include "store/spool_sink.hpp"

#include "store/maildir_writer.hpp"

namespace taube::store {

queue::QueueEnvelope queue_envelope_for(const MessageInfo& info) {
  queue::QueueEnvelope env;
  env.id = info.queue_id;
  env.arrival = info.arrival;
  env.sender = info.queue_sender.value_or(info.envelope.sender);  // SRS, if policy said so
  env.params = info.envelope.mail_params;
  env.params.auth.reset();  // RFC 4954 §5: AUTH= is decided anew for the next hop
  env.auth_user = info.auth_user;
  env.client_address = info.client_address;
  env.client_helo = info.client_helo;
  for (const auto& r : info.envelope.recipients) {
    for (const auto& d : r.destinations) {
      if (d.route != smtp::Destination::Route::Queue) continue;
      queue::QueuedRecipient q;
      auto mb = smtp::parse_mailbox(d.target);
      q.mailbox = mb ? *mb : r.mailbox;
      // An alias that leads elsewhere: the original recipient is kept for the DSN (RFC 3461
      // §4.2 ORCPT is the client's; this is ours).
      if (!(q.mailbox == r.mailbox)) q.original = r.mailbox.to_string();
      q.params = r.params;
      env.recipients.push_back(std::move(q));
    }
  }
  return env;
}

namespace {

// RFC 5321 §4.4: Return-Path is added at final delivery only; mail that goes on through the queue
// must not carry one (the next hop adds its own from the envelope).
std::string without_return_path(std::string_view prefix) {
  if (prefix.rfind("Return-Path:", 0) != 0) return std::string(prefix);
  std::size_t end = prefix.find('\n');
  while (end != std::string_view::npos && end + 1 < prefix.size() &&
         (prefix[end + 1] == ' ' || prefix[end + 1] == '\t'))
    end = prefix.find('\n', end + 1);
  return end == std::string_view::npos ? std::string() : std::string(prefix.substr(end + 1));
}

// The spool's writer. A message of at most kKeepContent octets stays in memory to the end of
// data and is then filed through the queue's journal (QueueStore::file_journalled: no file is
// written); a larger one, or one the journal does not take, goes through a MaildirWriter into
// the queue's tmp/ and QueueStore::file. Either way the runner is told of the durable item, with
// the content of a small one (see RelaySpoolSink::Queued).
class QueueWriter final : public MessageWriter {
 public:
  QueueWriter(MaildirStore& store, QueueStore& queue, std::unique_ptr<MaildirWriter> inner,
              std::shared_ptr<std::string> name, std::shared_ptr<queue::QueueEnvelope> env,
              const RelaySpoolSink::Queued& queued)
      : store_(store),
        queue_(queue),
        inner_(std::move(inner)),
        name_(std::move(name)),
        env_(std::move(env)),
        queued_(queued) {}
  void flush() override {
    if (!spilled_ && held_.size() + buffer_.size() <= RelaySpoolSink::kKeepContent) {
      held_.append(buffer_);
      buffer_.clear();
      return;
    }
    spill();
    inner_->append(buffer_);
    buffer_.clear();
    inner_->flush();
  }
  CommitOutcome commit(std::string_view prefix) override {
    const std::string stored_prefix = without_return_path(prefix);
    if (!spilled_ && held_.size() + buffer_.size() <= RelaySpoolSink::kKeepContent) {
      std::string all;
      all.reserve(stored_prefix.size() + held_.size() + buffer_.size());
      all.append(stored_prefix).append(held_).append(buffer_);
      buffer_.clear();
      std::string().swap(held_);
      auto content = std::make_shared<const std::string>(std::move(all));
      // The envelope records the stored size (what `taube queue list` shows, as mailq does);
      // the client's SIZE= was only its estimate. The file way sets it at publish.
      env_->params.size = content->size();
      const std::string name = store_.unique_name();
      if (queue_.file_journalled(name, queue::encode_envelope(*env_), content)) {
        inner_->abort();  // never started: nothing to remove
        if (queued_) queued_(name, *env_, std::move(content));
        return {};
      }
      // The journal did not take it: the file way, with the content kept for the runner.
      inner_->append(std::string_view(*content).substr(stored_prefix.size()));
      auto out = inner_->commit(stored_prefix);
      if (out.ok() && queued_) queued_(*name_, *env_, std::move(content));
      return out;
    }
    spill();
    inner_->append(buffer_);
    buffer_.clear();
    auto out = inner_->commit(stored_prefix);
    if (out.ok() && queued_) queued_(*name_, *env_, nullptr);
    return out;
  }
  void abort() override { inner_->abort(); }

 private:
  // From here on the message streams into the inner writer (a queue file).
  void spill() {
    if (spilled_) return;
    spilled_ = true;
    inner_->append(held_);
    std::string().swap(held_);
  }

  MaildirStore& store_;
  QueueStore& queue_;
  std::unique_ptr<MaildirWriter> inner_;
  std::shared_ptr<std::string> name_;          // the queue file's name, once filed the file way
  std::shared_ptr<queue::QueueEnvelope> env_;  // shared with the file way's publish step
  const RelaySpoolSink::Queued& queued_;
  std::string held_;  // the content so far, while it is small
  bool spilled_ = false;
};

}  // namespace

std::unique_ptr<MessageWriter> RelaySpoolSink::begin(const MessageInfo& info,
                                                     std::string provisional_prefix) {
  auto qenv = std::make_shared<queue::QueueEnvelope>(queue_envelope_for(info));
  auto name = std::make_shared<std::string>();
  auto publish = [this, qenv, name](MaildirStore::Message& msg) -> tl::expected<void, StoreError> {
    *name = msg.unique_name();
    qenv->params.size = msg.size();  // the stored size (see QueueWriter::commit)
    return queue_.file(msg, queue::encode_envelope(*qenv));
  };
  auto inner =
      std::make_unique<MaildirWriter>(store_, std::vector<std::string>{directory()}, nullptr,
                                      without_return_path(provisional_prefix), std::move(publish));
  return std::make_unique<QueueWriter>(store_, queue_, std::move(inner), std::move(name),
                                       std::move(qenv), queued_);
}

}  // namespace taube::store
