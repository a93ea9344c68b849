// The sd_notify(3) messages of app/service_notify.hpp (the socket side: test_service.py).
#include "app/service_notify.hpp"

#include <gtest/gtest.h>

namespace taube::app {
namespace {

TEST(ServiceNotify, StatusIsOneLine) {
  // sd_notify's messages are VAR=value lines: a newline in a status (an error text from the
  // configuration, say) would start a bogus variable.
  EXPECT_EQ(status_message("reload failed: bad\nREADY=1"), "STATUS=reload failed: bad READY=1");
  EXPECT_EQ(ready_message("a\r\nb"), "READY=1\nSTATUS=a  b");
}

TEST(ServiceNotify, MessagesCarryTheirStatus) {
  EXPECT_EQ(ready_message(""), "READY=1");
  EXPECT_EQ(ready_message("ok"), "READY=1\nSTATUS=ok");
  EXPECT_EQ(stopping_message("stopping: 2 connection(s) open"),
            "STOPPING=1\nSTATUS=stopping: 2 connection(s) open");
  EXPECT_EQ(reloading_message("reloading", 1234567),
            "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=reloading");
}

TEST(ServiceNotify, ListeningStatusShowsEveryEndpoint) {
  using asio::ip::make_address;
  using asio::ip::tcp;
  EXPECT_EQ(listening_status({tcp::endpoint(make_address("0.0.0.0"), 25),
                              tcp::endpoint(make_address("::"), 587)}),
            "accepting mail on 0.0.0.0:25, [::]:587");
}

TEST(ServiceNotify, RunningStatus) {
  EXPECT_EQ(running_status(3, 12, true), "3 connection(s); queue: 12 message(s)");
  EXPECT_EQ(running_status(0, 0, false), "0 connection(s); queue: 0 message(s), loading");
}

TEST(ServiceNotify, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  asio::io_context io;
  ServiceNotifier n(io);
  EXPECT_FALSE(n.enabled());
  n.ready("x");
  n.keep_informed([] { return std::string("s"); }, std::chrono::milliseconds(1));
  // No timer was armed: the loop has nothing to run.
  EXPECT_EQ(io.run_for(std::chrono::milliseconds(20)), 0u);
}

}  // namespace
}  // namespace taube::app
