#include "store/memory_sink.hpp"

namespace taube::store {

class MemoryWriter final : public MessageWriter {
 public:
  MemoryWriter(MemorySink& sink, MessageInfo info) : sink_(sink), info_(std::move(info)) {}
  ~MemoryWriter() override { abort(); }
  void flush() override {
    content_ += buffer_;
    buffer_.clear();
  }
  CommitOutcome commit(std::string_view prefix) override {
    flush();
    done_ = true;
    std::lock_guard lk(sink_.mu_);
    if (sink_.fail_ && sink_.fail_times_ > 0) {
      const StoreError e = *sink_.fail_;
      if (--sink_.fail_times_ == 0) sink_.fail_.reset();
      return {e, {}};
    }
    sink_.messages_.push_back({std::move(info_), std::string(prefix), std::move(content_)});
    return {};
  }
  void abort() override {
    if (done_) return;
    done_ = true;
    std::lock_guard lk(sink_.mu_);
    ++sink_.aborted_;
  }

 private:
  MemorySink& sink_;
  MessageInfo info_;
  std::string content_;
  bool done_ = false;
};

std::unique_ptr<MessageWriter> MemorySink::begin(const MessageInfo& info, std::string) {
  return std::make_unique<MemoryWriter>(*this, info);
}

std::vector<MemorySink::Stored> MemorySink::messages() const {
  std::lock_guard lk(mu_);
  return messages_;
}

std::size_t MemorySink::aborted() const {
  std::lock_guard lk(mu_);
  return aborted_;
}

void MemorySink::fail_next(StoreError e, std::size_t times) {
  std::lock_guard lk(mu_);
  fail_ = e;
  fail_times_ = times;
}

}  // namespace taube::store
