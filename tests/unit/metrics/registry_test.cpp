#include "metrics/registry.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace taube::metrics {
namespace {

TEST(Format, CounterWithoutLabels) {
  Registry r;
  auto& c = r.counter("taube_things_total", "Things seen.").get();
  c.inc();
  c.inc(4);
  EXPECT_EQ(c.value(), 5u);
  EXPECT_EQ(r.render(),
            "# HELP taube_things_total Things seen.\n"
            "# TYPE taube_things_total counter\n"
            "taube_things_total 5\n");
}

TEST(Format, LabelledFamilyIsSortedByLabelValues) {
  Registry r;
  auto& f = r.counter("taube_rejects_total", "Rejects.", {"code", "verb"});
  f.with({"554", "RCPT"}).inc();
  f.with({"550", "RCPT"}).inc(2);
  f.with({"554", "RCPT"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP taube_rejects_total Rejects.\n"
            "# TYPE taube_rejects_total counter\n"
            "taube_rejects_total{code=\"550\",verb=\"RCPT\"} 2\n"
            "taube_rejects_total{code=\"554\",verb=\"RCPT\"} 2\n");
}

TEST(Format, FamilyWithoutChildrenIsNotRendered) {
  Registry r;
  r.counter("taube_a_total", "A.", {"x"});
  r.gauge("taube_b", "B.").get().set(1);
  EXPECT_EQ(r.render(), "# HELP taube_b B.\n# TYPE taube_b gauge\ntaube_b 1\n");
}

TEST(Format, GaugeValues) {
  Registry r;
  auto& g = r.gauge("taube_g", "G.").get();
  g.set(2.5);
  g.add(-1);
  EXPECT_DOUBLE_EQ(g.value(), 1.5);
  EXPECT_NE(r.render().find("\ntaube_g 1.5\n"), std::string::npos);
}

TEST(Format, Values) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(-2.25), "-2.25");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  // Shortest round trip, which Go's ParseFloat reads back exactly.
  EXPECT_EQ(std::stod(format_value(1e21)), 1e21);
  EXPECT_EQ(std::stod(format_value(0.30000000000000004)), 0.30000000000000004);
}

TEST(Escaping, LabelValues) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escape_label_value("two\nlines"), "two\\nlines");
  EXPECT_EQ(escape_label_value("tab\there"), "tab\there");  // only \, " and newline are escaped
  Registry r;
  r.counter("taube_x_total", "X.", {"v"}).with({"a\"b\\c\nd"}).inc();
  EXPECT_NE(r.render().find("taube_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos);
}

TEST(Escaping, Help) {
  EXPECT_EQ(escape_help("a \"quoted\" \\ text\nnext"), "a \"quoted\" \\\\ text\\nnext");
}

TEST(Names, MetricAndLabelNames) {
  EXPECT_TRUE(valid_metric_name("taube_up"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_TRUE(valid_metric_name("_x"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("9lives"));
  EXPECT_FALSE(valid_metric_name("taube-up"));
  EXPECT_FALSE(valid_metric_name("taube up"));
  EXPECT_TRUE(valid_label_name("code"));
  EXPECT_TRUE(valid_label_name("_x1"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("1a"));
  EXPECT_FALSE(valid_label_name(""));
}

TEST(Names, RegistrationErrorsThrow) {
  Registry r;
  EXPECT_THROW(r.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("taube_ok_total", "x", {"bad:label"}), std::invalid_argument);
  EXPECT_THROW(r.counter("taube_dup_total", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("taube_h_seconds", "x", {1}, {"le"}), std::invalid_argument);
  r.counter("taube_once_total", "x");
  EXPECT_THROW(r.gauge("taube_once_total", "x"), std::invalid_argument);
  r.histogram("taube_lat_seconds", "x", {1});
  EXPECT_THROW(r.counter("taube_lat_seconds_count", "x"), std::invalid_argument);
  EXPECT_THROW(r.histogram("taube_bad_seconds", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("taube_bad2_seconds", "x", {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("taube_bad3_seconds", "x", {1, std::numeric_limits<double>::infinity()}),
               std::invalid_argument);
}

TEST(Names, WrongNumberOfLabelValuesThrows) {
  Registry r;
  auto& f = r.counter("taube_c_total", "x", {"a", "b"});
  EXPECT_THROW(f.with({"1"}), std::invalid_argument);
  EXPECT_THROW(f.get(), std::invalid_argument);
}

TEST(Histogram, BucketsAreUpperInclusiveAndCumulative) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 11.0, 1000.0}) h.observe(v);
  EXPECT_EQ(h.cumulative(), (std::vector<std::uint64_t>{2, 4, 6, 8}));
  EXPECT_EQ(h.count(), 8u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.05 + 0.1 + 0.5 + 1 + 5 + 10 + 11 + 1000);
}

TEST(Histogram, NanGoesToInfOnly) {
  Histogram h({1});
  h.observe(std::nan(""));
  EXPECT_EQ(h.cumulative(), (std::vector<std::uint64_t>{0, 1}));
}

TEST(Histogram, Rendered) {
  Registry r;
  auto& f = r.histogram("taube_delay_seconds", "Delay.", {0.5, 2}, {"stage"});
  f.with({"queue"}).observe(1);
  f.with({"queue"}).observe(3);
  EXPECT_EQ(r.render(),
            "# HELP taube_delay_seconds Delay.\n"
            "# TYPE taube_delay_seconds histogram\n"
            "taube_delay_seconds_bucket{stage=\"queue\",le=\"0.5\"} 0\n"
            "taube_delay_seconds_bucket{stage=\"queue\",le=\"2\"} 1\n"
            "taube_delay_seconds_bucket{stage=\"queue\",le=\"+Inf\"} 2\n"
            "taube_delay_seconds_sum{stage=\"queue\"} 4\n"
            "taube_delay_seconds_count{stage=\"queue\"} 2\n");
}

TEST(Histogram, RenderedWithoutLabels) {
  Registry r;
  r.histogram("taube_d_seconds", "D.", {1}).get().observe(0.25);
  EXPECT_EQ(r.render(),
            "# HELP taube_d_seconds D.\n"
            "# TYPE taube_d_seconds histogram\n"
            "taube_d_seconds_bucket{le=\"1\"} 1\n"
            "taube_d_seconds_bucket{le=\"+Inf\"} 1\n"
            "taube_d_seconds_sum 0.25\n"
            "taube_d_seconds_count 1\n");
}

TEST(Histogram, AssignedFromCountsKeptElsewhere) {
  Histogram h({1, 4});
  h.observe(100);
  h.assign({3, 1, 2}, 25);  // replaces what was observed
  EXPECT_EQ(h.cumulative(), (std::vector<std::uint64_t>{3, 4, 6}));
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 25);
  EXPECT_THROW(h.assign({1, 2}, 0), std::invalid_argument);
}

TEST(Format, CounterSetToATotalKeptElsewhere) {
  Registry r;
  auto& c = r.counter("taube_x_total", "X.").get();
  c.set_total(41);
  c.inc();
  EXPECT_EQ(c.value(), 42u);
}

TEST(Histogram, BucketHelpers) {
  EXPECT_EQ(exponential_buckets(0.01, 10, 4), (Buckets{0.01, 0.1, 1, 10}));
  EXPECT_EQ(linear_buckets(1, 2, 3), (Buckets{1, 3, 5}));
  EXPECT_THROW(exponential_buckets(0, 2, 3), std::invalid_argument);
  EXPECT_THROW(exponential_buckets(1, 1, 3), std::invalid_argument);
  EXPECT_THROW(linear_buckets(1, 0, 3), std::invalid_argument);
}

// The disk worker pool and the event loop count into the same metrics: no update is lost.
TEST(Concurrency, CountersAndHistogramsFromManyThreads) {
  Registry r;
  auto& fam = r.counter("taube_n_total", "N.", {"t"});
  auto& h = r.histogram("taube_h_seconds", "H.", {1}).get();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        fam.with({t % 2 ? "odd" : "even"}).inc();
        h.observe(0.5);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(fam.with({"odd"}).value(), 20000u);
  EXPECT_EQ(fam.with({"even"}).value(), 20000u);
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_DOUBLE_EQ(h.sum(), 20000);
}

}  // namespace
}  // namespace taube::metrics
