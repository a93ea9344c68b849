#include "store/message_sink.hpp"

#include <algorithm>
#include <utility>

namespace taube::store {

bool CommitOutcome::ok() const {
  return !first_error();
}

std::optional<StoreError> CommitOutcome::for_recipient(std::size_t i) const {
  if (i < per_recipient.size()) return per_recipient[i];
  return error;
}

std::optional<StoreError> CommitOutcome::first_error() const {
  if (error) return error;
  for (const auto& e : per_recipient)
    if (e) return e;
  return std::nullopt;
}

namespace {

class NullWriter final : public MessageWriter {
 public:
  void flush() override { buffer_.clear(); }
  CommitOutcome commit(std::string_view) override {
    buffer_.clear();
    return {};
  }
  void abort() override { buffer_.clear(); }
};

bool has_route(const smtp::Envelope& env, smtp::Destination::Route route) {
  for (const auto& r : env.recipients)
    for (const auto& d : r.destinations)
      if (d.route == route) return true;
  return false;
}

// One message going to several sinks. Each part sees the whole content; the outcome of a
// recipient is the worst outcome of the parts holding one of its destinations.
class FanoutWriter final : public MessageWriter {
 public:
  struct Part {
    smtp::Destination::Route route;
    std::unique_ptr<MessageWriter> writer;
    bool committed = false;
  };
  FanoutWriter(std::vector<Part> parts, smtp::Envelope env)
      : parts_(std::move(parts)), env_(std::move(env)) {}

  void flush() override {
    for (auto& p : parts_) {
      p.writer->append(buffer_);
      p.writer->flush();
    }
    buffer_.clear();
  }

  CommitOutcome commit(std::string_view prefix) override {
    std::vector<std::pair<smtp::Destination::Route, std::optional<StoreError>>> results;
    bool failed = false;
    for (auto& p : parts_) {
      if (failed) {
        // Something already failed: the client will be told so and send again; do not make
        // the rest durable as well.
        p.writer->abort();
        results.emplace_back(p.route, StoreError::Io);
        continue;
      }
      p.writer->append(buffer_);
      auto out = p.writer->commit(prefix);
      p.committed = out.ok();
      failed = !out.ok();
      results.emplace_back(p.route, out.first_error());
    }
    buffer_.clear();
    CommitOutcome outcome;
    if (!failed) return outcome;
    for (const auto& r : env_.recipients) {
      std::optional<StoreError> worst;
      for (const auto& d : r.destinations)
        for (const auto& [route, err] : results)
          if (route == d.route && err && !worst) worst = err;
      outcome.per_recipient.push_back(worst);
    }
    return outcome;
  }

  void abort() override {
    for (auto& p : parts_)
      if (!p.committed) p.writer->abort();
    buffer_.clear();
  }

 private:
  std::vector<Part> parts_;
  smtp::Envelope env_;
};

// Refuses everything at commit: recipients routed to a queue that is not there.
class FailingWriter final : public MessageWriter {
 public:
  void flush() override { buffer_.clear(); }
  CommitOutcome commit(std::string_view) override {
    buffer_.clear();
    return {StoreError::Io, {}};
  }
  void abort() override { buffer_.clear(); }
};

}  // namespace

std::unique_ptr<MessageWriter> NullSink::begin(const MessageInfo&, std::string) {
  return std::make_unique<NullWriter>();
}

std::unique_ptr<MessageWriter> RoutingSink::begin(const MessageInfo& info,
                                                  std::string provisional_prefix) {
  using Route = smtp::Destination::Route;
  std::vector<FanoutWriter::Part> parts;
  if (has_route(info.envelope, Route::Mailbox))
    parts.push_back({Route::Mailbox, mailbox_.begin(info, provisional_prefix), false});
  if (has_route(info.envelope, Route::Queue)) {
    std::unique_ptr<MessageWriter> w =
        queue_ ? queue_->begin(info, provisional_prefix) : std::make_unique<FailingWriter>();
    parts.push_back({Route::Queue, std::move(w), false});
  }
  if (parts.empty()) return std::make_unique<FailingWriter>();
  if (parts.size() == 1) return std::move(parts.front().writer);
  return std::make_unique<FanoutWriter>(std::move(parts), info.envelope);
}

}  // namespace taube::store
