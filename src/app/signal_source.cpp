#include "app/signal_source.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace taube::app {

tl::expected<std::unique_ptr<SignalSource>, std::string> SignalSource::open(
    std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0)
    return tl::unexpected(std::string("cannot block the signals: ") + std::strerror(rc));
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return tl::unexpected(std::string("signalfd: ") + std::strerror(errno));
  return std::unique_ptr<SignalSource>(new SignalSource(fd));
}

SignalSource::~SignalSource() {
  if (stream_) {
    asio::error_code ignored;
    stream_->close(ignored);
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
}

void SignalSource::start(asio::io_context& io, std::function<void(int)> handler) {
  handler_ = std::move(handler);
  stream_.emplace(io, fd_);
  read();
}

void SignalSource::close() {
  if (!stream_) return;
  asio::error_code ignored;
  stream_->cancel(ignored);
  stream_->close(ignored);
  stream_.reset();
  fd_ = -1;
}

void SignalSource::read() {
  // signalfd(2) returns whole signalfd_siginfo records only, as many as fit.
  stream_->async_read_some(asio::buffer(buffer_),
                           [this](const asio::error_code& ec, std::size_t n) {
                             if (ec || !stream_) return;  // closed
                             for (std::size_t i = 0; i < n / sizeof(signalfd_siginfo); ++i) {
                               handler_(static_cast<int>(buffer_[i].ssi_signo));
                               if (!stream_) return;  // the handler closed the source
                             }
                             read();
                           });
}

}  // namespace taube::app
