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

// The spool's writer: a MaildirWriter into the spool, and the runner told of the durable item.
// A copy of a small message's content goes with it (see RelaySpoolSink::Queued).
class QueueWriter final : public MessageWriter {
 public:
  QueueWriter(std::unique_ptr<MaildirWriter> inner, std::shared_ptr<std::string> name,
              queue::QueueEnvelope env, const RelaySpoolSink::Queued& queued)
      : inner_(std::move(inner)), name_(std::move(name)), env_(std::move(env)), queued_(queued) {}
  void flush() override {
    keep(buffer_);
    inner_->append(buffer_);
    buffer_.clear();
    inner_->flush();
  }
  CommitOutcome commit(std::string_view prefix) override {
    keep(buffer_);
    inner_->append(buffer_);
    buffer_.clear();
    const std::string stored_prefix = without_return_path(prefix);
    auto out = inner_->commit(stored_prefix);
    if (out.ok() && queued_) {
      std::shared_ptr<const std::string> content;
      if (keeping_ && stored_prefix.size() + copy_.size() <= RelaySpoolSink::kKeepContent)
        content = std::make_shared<const std::string>(stored_prefix + copy_);
      queued_(*name_, env_, std::move(content));
    }
    return out;
  }
  void abort() override { inner_->abort(); }

 private:
  void keep(std::string_view data) {
    if (!keeping_) return;
    if (copy_.size() + data.size() > RelaySpoolSink::kKeepContent) {
      keeping_ = false;
      std::string().swap(copy_);
      return;
    }
    copy_.append(data);
  }

  std::unique_ptr<MaildirWriter> inner_;
  std::shared_ptr<std::string> name_;
  queue::QueueEnvelope env_;
  const RelaySpoolSink::Queued& queued_;
  std::string copy_;
  bool keeping_ = true;
};

}  // namespace

std::unique_ptr<MessageWriter> RelaySpoolSink::begin(const MessageInfo& info,
                                                     std::string provisional_prefix) {
  queue::QueueEnvelope qenv = queue_envelope_for(info);
  auto name = std::make_shared<std::string>();
  auto publish = [this, envelope = queue::encode_envelope(qenv),
                  name](MaildirStore::Message& msg) -> tl::expected<void, StoreError> {
    *name = msg.unique_name();
    return queue_.file(msg, envelope);
  };
  auto inner =
      std::make_unique<MaildirWriter>(store_, std::vector<std::string>{directory()}, nullptr,
                                      without_return_path(provisional_prefix), std::move(publish));
  return std::make_unique<QueueWriter>(std::move(inner), std::move(name), std::move(qenv), queued_);
}

}  // namespace taube::store
