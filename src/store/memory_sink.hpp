// MemorySink: keeps committed messages in memory (for tests of the layers above the store), and
// can be told to fail the next commits.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/message_sink.hpp"

namespace taube::store {

class MemorySink final : public MessageSink {
 public:
  struct Stored {
    MessageInfo info;
    std::string prefix;
    std::string content;
  };

  std::unique_ptr<MessageWriter> begin(const MessageInfo& info,
                                       std::string provisional_prefix) override;

  // Thread safe: commits arrive from worker threads.
  std::vector<Stored> messages() const;
  std::size_t aborted() const;
  void fail_next(StoreError e, std::size_t times = 1);

 private:
  friend class MemoryWriter;
  mutable std::mutex mu_;
  std::vector<Stored> messages_;
  std::size_t aborted_ = 0;
  std::optional<StoreError> fail_;
  std::size_t fail_times_ = 0;
};

}  // namespace taube::store
