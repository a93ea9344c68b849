#include "app/signal_source.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <vector>

#include <gtest/gtest.h>
#include <asio/io_context.hpp>

namespace taube::app {
namespace {

// To this thread (pthread_kill): other tests of the binary may have left threads that do not
// block the signal, and a process-directed one could reach them. signalfd reads what is
// pending for the reading thread as well as for the process.
int raise_here(int sig) {
  return ::pthread_kill(::pthread_self(), sig);
}

// SIGUSR2 and SIGWINCH: signals no other test or the test runner uses. Each test unblocks them
// again and drops what is left pending, so the next one starts clean.
class SignalSourceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGWINCH);
    const timespec zero{};
    while (::sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }

  // Runs `io` until `done` or 5 s.
  static void run_until(asio::io_context& io, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(std::chrono::milliseconds(10));
    }
  }
};

TEST_F(SignalSourceTest, BlocksTheSignalsInTheCallingThread) {
  auto source = SignalSource::open({SIGUSR2});
  ASSERT_TRUE(source) << source.error();
  sigset_t now;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &now), 0);
  EXPECT_EQ(sigismember(&now, SIGUSR2), 1);
  EXPECT_EQ(sigismember(&now, SIGWINCH), 0);
}

// A signal sent before start() (during the server's start-up) is delivered by it, not lost and
// not acted on with its default action (SIGUSR2's would end the test binary).
TEST_F(SignalSourceTest, ASignalSentBeforeStartIsDeliveredOnTheLoop) {
  asio::io_context io;  // outlives the source
  auto source = SignalSource::open({SIGUSR2});
  ASSERT_TRUE(source) << source.error();
  ASSERT_EQ(raise_here(SIGUSR2), 0);
  std::vector<int> got;
  (*source)->start(io, [&](int sig) { got.push_back(sig); });
  run_until(io, [&] { return !got.empty(); });
  EXPECT_EQ(got, std::vector<int>{SIGUSR2});
}

TEST_F(SignalSourceTest, DeliversEachKindAndKeepsReading) {
  asio::io_context io;  // outlives the source
  auto source = SignalSource::open({SIGUSR2, SIGWINCH});
  ASSERT_TRUE(source) << source.error();
  std::vector<int> got;
  (*source)->start(io, [&](int sig) { got.push_back(sig); });
  ASSERT_EQ(raise_here(SIGWINCH), 0);
  run_until(io, [&] { return got.size() == 1; });
  ASSERT_EQ(raise_here(SIGUSR2), 0);
  run_until(io, [&] { return got.size() == 2; });
  ASSERT_EQ(raise_here(SIGUSR2), 0);
  run_until(io, [&] { return got.size() == 3; });
  EXPECT_EQ(got, (std::vector<int>{SIGWINCH, SIGUSR2, SIGUSR2}));
}

// The server closes the source at the first SIGTERM: nothing is waiting any more, so io.run()
// returns (the loop's other work permitting), and a later signal is not handled.
TEST_F(SignalSourceTest, CloseFromTheHandlerLetsRunReturn) {
  asio::io_context io;  // outlives the source
  auto source = SignalSource::open({SIGUSR2});
  ASSERT_TRUE(source) << source.error();
  int calls = 0;
  (*source)->start(io, [&](int) {
    ++calls;
    (*source)->close();
  });
  ASSERT_EQ(raise_here(SIGUSR2), 0);
  // Out of work once the source has closed: run_for returns early, the context stopped.
  io.run_for(std::chrono::seconds(5));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(io.stopped()) << "the closed source still keeps the loop waiting";
  ASSERT_EQ(raise_here(SIGUSR2), 0);
  io.restart();
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace taube::app
