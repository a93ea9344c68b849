// net::Resolver and resolve_route against tests/support/taubetest/dns_server.py (a real DNS
// server on loopback, run as a child process; skipped without python3).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "net/resolver.hpp"

using namespace taube;
using namespace std::chrono_literals;

namespace {

const char* kServerScript = TAUBE_DIALOG_DIR "/../support/taubetest/dns_server.py";

// One dns_server.py child with a JSON zone; port() == 0 when it could not start.
class DnsChild {
 public:
  explicit DnsChild(const std::string& zone_json) {
    char path[] = "/tmp/taube-dns-zone-XXXXXX";
    const int zfd = mkstemp(path);
    if (zfd < 0) return;
    zone_ = path;
    (void)!write(zfd, zone_json.data(), zone_json.size());
    ::close(zfd);
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // no orphan when the test binary is killed
      dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      execlp("python3", "python3", kServerScript, "--zone", path, "--port", "0", nullptr);
      _exit(127);
    }
    ::close(out[1]);
    // "listening 127.0.0.1 PORT\n"
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    if (auto sp = line.rfind(' '); line.rfind("listening ", 0) == 0 && sp != std::string::npos)
      port_ = std::atoi(line.c_str() + sp + 1);
  }
  ~DnsChild() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (!zone_.empty()) unlink(zone_.c_str());
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string zone_;
};

std::string many_a_records() {
  std::string s = "[";
  for (int i = 1; i <= 120; ++i)
    s += (i > 1 ? ",\"127.0.1." : "\"127.0.1.") + std::to_string(i) + "\"";
  return s + "]";
}

const std::string kZone = R"({
  "two.example": {"MX": [[20, "MX2.two.example."], [10, "mx1.two.example"]]},
  "mx1.two.example": {"A": ["127.0.0.2"], "AAAA": ["::1"]},
  "mx2.two.example": {"A": ["127.0.0.3"]},
  "implicit.example": {"A": ["127.0.0.4"]},
  "nomail.example": {"MX": [[0, "."]]},
  "gone.example": "NXDOMAIN",
  "broken.example": "SERVFAIL",
  "slow.example": "TIMEOUT",
  "brokenmx.example": {"MX": [[10, "broken.example"], [20, "mx2.two.example"]]},
  "alias.example": {"CNAME": "mx2.two.example"},
  "big.example": {"A": )" +
                          many_a_records() + R"(}
})";

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns_ = std::make_unique<DnsChild>(kZone);
    if (dns_->port() == 0) GTEST_SKIP() << "python3 or dns_server.py not available";
    net::ResolverOptions o;
    o.servers = {dns_->address()};
    o.query_timeout = 1500ms;
    auto r = net::Resolver::create(io_, o);
    ASSERT_TRUE(r) << r.error();
    resolver_ = std::move(*r);
  }

  template <class T>
  T run(asio::awaitable<T> a) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(a), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out = std::move(v);
    });
    io_.restart();
    io_.run();  // returns: an idle resolver keeps no work
    EXPECT_TRUE(out.has_value());
    return out ? std::move(*out) : T{};
  }

  dns::RoutePlan route(const std::string& domain, dns::FamilyPreference f) {
    net::RouteOptions o;
    o.family = f;
    std::function<double()> random01 = [] { return 0.0; };
    return run(net::resolve_route(*resolver_, domain, o, random01));
  }

  asio::io_context io_{1};
  std::unique_ptr<DnsChild> dns_;
  std::unique_ptr<net::Resolver> resolver_;
};

std::vector<std::string> lines(const dns::RoutePlan& p) {
  std::vector<std::string> out;
  for (const auto& t : p.targets)
    out.push_back(std::to_string(t.preference) + " " + t.host + " " + t.address.to_string());
  return out;
}

}  // namespace

TEST(ResolverCreate, RejectsBadServers) {
  asio::io_context io;
  auto r = net::Resolver::create(io, std::vector<std::string>{"not-an-ip"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not-an-ip"), std::string::npos);
}

TEST(ResolverCreate, FromResolvConf) {
  if (access("/etc/resolv.conf", R_OK) != 0) GTEST_SKIP() << "no /etc/resolv.conf";
  asio::io_context io;
  auto r = net::Resolver::create(io, std::vector<std::string>{});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)->pending(), 0u);
  io.run();  // nothing pending: returns at once
}

TEST_F(ResolverTest, MxRecordsLowerCased) {
  const std::string name = "Two.Example";
  const auto mx = run(resolver_->mx(name));
  ASSERT_EQ(mx.rcode, dns::Rcode::Ok) << mx.reason;
  ASSERT_EQ(mx.records.size(), 2u);
  std::vector<std::string> got;
  for (const auto& r : mx.records) got.push_back(std::to_string(r.preference) + " " + r.exchange);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"10 mx1.two.example", "20 mx2.two.example"}));
  EXPECT_EQ(resolver_->pending(), 0u);
}

TEST_F(ResolverTest, AddressesBothFamiliesAndNoData) {
  const std::string host = "mx1.two.example";
  auto a = run(resolver_->addresses(host, false));
  ASSERT_EQ(a.rcode, dns::Rcode::Ok);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "127.0.0.2");
  a = run(resolver_->addresses(host, true));
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "::1");
  const std::string v4only = "mx2.two.example";
  a = run(resolver_->addresses(v4only, true));
  EXPECT_EQ(a.rcode, dns::Rcode::Ok);
  EXPECT_TRUE(a.addresses.empty());
}

TEST_F(ResolverTest, CnameFollowed) {
  const std::string host = "alias.example";
  const auto a = run(resolver_->addresses(host, false));
  ASSERT_EQ(a.rcode, dns::Rcode::Ok) << a.reason;
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "127.0.0.3");
}

TEST_F(ResolverTest, LargeAnswerOverTcp) {
  // 120 A records do not fit unbound's 1232-octet EDNS buffer: TC, then TCP.
  const std::string host = "big.example";
  const auto a = run(resolver_->addresses(host, false));
  ASSERT_EQ(a.rcode, dns::Rcode::Ok) << a.reason;
  EXPECT_EQ(a.addresses.size(), 120u);
}

TEST_F(ResolverTest, NxDomainAndServFail) {
  const std::string gone = "gone.example", broken = "broken.example";
  EXPECT_EQ(run(resolver_->mx(gone)).rcode, dns::Rcode::NxDomain);
  EXPECT_EQ(run(resolver_->addresses(gone, false)).rcode, dns::Rcode::NxDomain);
  EXPECT_EQ(run(resolver_->mx(broken)).rcode, dns::Rcode::ServFail);
}

TEST_F(ResolverTest, RouteInPreferenceOrder) {
  auto p = route("two.example", dns::FamilyPreference::Ipv6First);
  ASSERT_EQ(p.status, dns::PlanStatus::Ok) << p.reason;
  EXPECT_EQ(lines(p),
            (std::vector<std::string>{"10 mx1.two.example ::1", "10 mx1.two.example 127.0.0.2",
                                      "20 mx2.two.example 127.0.0.3"}));
  p = route("two.example", dns::FamilyPreference::Ipv4Only);
  EXPECT_EQ(lines(p), (std::vector<std::string>{"10 mx1.two.example 127.0.0.2",
                                                "20 mx2.two.example 127.0.0.3"}));
}

TEST_F(ResolverTest, RouteImplicitNullNxServFail) {
  auto p = route("implicit.example", dns::FamilyPreference::Ipv6First);
  ASSERT_EQ(p.status, dns::PlanStatus::Ok) << p.reason;
  EXPECT_EQ(lines(p), (std::vector<std::string>{"0 implicit.example 127.0.0.4"}));
  EXPECT_EQ(route("nomail.example", dns::FamilyPreference::Ipv6First).enhanced_status(), "5.1.10");
  EXPECT_EQ(route("gone.example", dns::FamilyPreference::Ipv6First).enhanced_status(), "5.1.2");
  EXPECT_EQ(route("broken.example", dns::FamilyPreference::Ipv6First).enhanced_status(), "4.4.3");
  // An MX host whose lookups fail is skipped when another resolves.
  p = route("brokenmx.example", dns::FamilyPreference::Ipv6First);
  ASSERT_EQ(p.status, dns::PlanStatus::Ok) << p.reason;
  EXPECT_EQ(lines(p), (std::vector<std::string>{"20 mx2.two.example 127.0.0.3"}));
  // A literal needs no DNS.
  EXPECT_EQ(lines(route("[127.0.0.9]", dns::FamilyPreference::Ipv6First)),
            (std::vector<std::string>{"0 [127.0.0.9] 127.0.0.9"}));
}

TEST_F(ResolverTest, TimeoutIsBounded) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto p = route("slow.example", dns::FamilyPreference::Ipv6First);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(p.status, dns::PlanStatus::TempFail);
  EXPECT_NE(p.reason.find("timeout"), std::string::npos) << p.reason;
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(resolver_->pending(), 0u);
}

TEST_F(ResolverTest, CancelAllEndsLookups) {
  const std::string slow = "slow.example";
  std::optional<dns::MxAnswer> got;
  asio::co_spawn(io_, resolver_->mx(slow), [&](std::exception_ptr, dns::MxAnswer a) { got = a; });
  asio::steady_timer t(io_, 100ms);
  t.async_wait([&](const asio::error_code&) {
    EXPECT_EQ(resolver_->pending(), 1u);
    resolver_->cancel_all();
  });
  const auto t0 = std::chrono::steady_clock::now();
  io_.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->rcode, dns::Rcode::ServFail);
  EXPECT_EQ(got->reason, "cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // Still usable.
  const std::string two = "two.example";
  EXPECT_EQ(run(resolver_->mx(two)).records.size(), 2u);
}

TEST_F(ResolverTest, DestroyedWithLookupsPending) {
  const std::string slow = "slow.example", two = "two.example";
  std::optional<dns::RoutePlan> a, b;
  net::RouteOptions o;
  std::function<double()> random01 = [] { return 0.5; };
  asio::co_spawn(io_, net::resolve_route(*resolver_, slow, o, random01),
                 [&](std::exception_ptr, dns::RoutePlan p) { a = p; });
  const std::vector<std::string> hosts{"mx1.two.example", "slow.example"};
  asio::co_spawn(io_, resolver_->host_addresses(hosts, dns::FamilyPreference::Ipv6First),
                 [&](std::exception_ptr, std::vector<dns::HostAddresses> v) {
                   b = dns::RoutePlan{v.size() == 2 && v[1].first.reason == "cancelled"
                                          ? dns::PlanStatus::TempFail
                                          : dns::PlanStatus::Ok,
                                      {},
                                      ""};
                 });
  asio::steady_timer t(io_, 200ms);
  t.async_wait([&](const asio::error_code&) { resolver_.reset(); });
  io_.run();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, dns::PlanStatus::TempFail);
  EXPECT_NE(a->reason.find("cancelled"), std::string::npos) << a->reason;
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, dns::PlanStatus::TempFail);
}
