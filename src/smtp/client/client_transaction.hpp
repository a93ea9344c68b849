// ClientSession's private state for the message in flight (client_transaction.cpp). Not a
// public header: only the two client_*.cpp files include it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/client/client_session.hpp"

namespace taube::smtp::client {

struct ClientSession::Transaction {
  Transaction() {}
  OutboundMessage message;
  std::vector<std::optional<RecipientResult>> results;  // settled recipients
  std::vector<std::string> rcpt_lines;                  // formatted, "" for locally refused
  std::vector<std::size_t> to_send;                     // indices with a RCPT line, in order
  std::size_t next_rcpt = 0;                            // into to_send (one at a time)
  std::vector<std::size_t> accepted;                    // RCPT 2xx, in order
  std::string mail_line;
  bool pipelined = false;
  bool bdat = false;
  std::optional<ParsedReply> mail_refused;
  std::optional<ParsedReply> data_reply;  // the reply to DATA
  bool content_started = false;
  bool end_sent = false;                     // the end of data (final dot, BDAT LAST) was written
  std::optional<ParsedReply> chunk_failure;  // the first refused BDAT chunk
  DotEncoder encoder;
  std::string bdat_buffer;
  std::uint64_t content_octets = 0;  // stored octets passed to content()
  bool dsn = false;
};

}  // namespace taube::smtp::client
