// A listening unix stream socket at a path, for the local sockets (the control socket of
// `taube queue`, the local submission socket of `taube sendmail`). Its directory is created; a
// socket file left by a crash is replaced if nobody answers on it, a live one is an error (a
// second server on the same paths); the mode is set after bind, since the umask would narrow or
// widen it otherwise.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <tl/expected.hpp>

namespace taube::net {

// `what` names the socket in messages ("control socket").
tl::expected<std::unique_ptr<asio::local::stream_protocol::acceptor>, std::string>
open_unix_acceptor(asio::io_context& io, const std::string& path, const std::string& what,
                   mode_t mode, int backlog);

}  // namespace taube::net
