// RejectReasons: the overview's "rejected by reason" table. A reject is counted under its verb,
// reply code and enhanced status ("RCPT 554 5.7.1", RFC 3463: the machine-readable reason) with
// the text of the first one seen as its example, cleaned of what varies per message: <addresses>
// and [IP literals] become "<…>" / "[…]", so "Recipient address rejected" is one row and not one
// per recipient. Bounded: kMaxReasons rows; more distinct keys are counted under "other".
// Pure (no clock, no I/O).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "smtp/wire/reply.hpp"

namespace taube::console {

// The reply's first line without what varies per message, at most 120 octets.
std::string reject_example(std::string_view reply_text);

class RejectReasons {
 public:
  static constexpr std::size_t kMaxReasons = 64;
  struct Row {
    std::uint64_t count = 0;
    std::string example;
  };
  void add(std::string_view verb, const smtp::Reply& reply);
  const std::map<std::string, Row>& rows() const { return rows_; }

 private:
  std::map<std::string, Row> rows_;
};

}  // namespace taube::console
