#include "net/unix_acceptor.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace taube::net {

tl::expected<std::unique_ptr<asio::local::stream_protocol::acceptor>, std::string>
open_unix_acceptor(asio::io_context& io, const std::string& path, const std::string& what,
                   mode_t mode, int backlog) {
  using asio::local::stream_protocol;
  std::error_code fec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, fec);
  if (std::filesystem::exists(path, fec)) {
    stream_protocol::socket probe(io);
    asio::error_code ec;
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec) return tl::unexpected(what + " " + path + " is in use by another process");
    ::unlink(path.c_str());
  }
  auto acceptor = std::make_unique<stream_protocol::acceptor>(io);
  asio::error_code ec;
  const stream_protocol::endpoint ep(path);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(backlog, ec);
  if (ec) return tl::unexpected("cannot listen on the " + what + " " + path + ": " + ec.message());
  if (::chmod(path.c_str(), mode) != 0)
    return tl::unexpected("cannot set the mode of " + path + ": " + std::strerror(errno));
  return acceptor;
}

}  // namespace taube::net
