// Metrics: counters, gauges and histograms in families with fixed label names, and the registry
// that renders them in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Pure: no I/O, no clock, no
// threads of its own. Values are atomics, so the event loop and the disk worker pool may count
// into the same metric; creating a labelled child takes the family's mutex once, after which a
// caller may keep the reference (children are never removed and never move).
//
// Names are checked when a family is registered (start-up): an invalid metric or label name, a
// reserved "le" label on a histogram, or a duplicate metric name throws std::invalid_argument,
// the one exception the layers allow (configuration errors at start-up).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace taube::metrics {

// A monotonically increasing count of events (TYPE counter; the name ends in _total).
class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  // For a count kept by a lower layer (which only grows there), copied in when scraped.
  void set_total(std::uint64_t v) { v_.store(v, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A value that goes up and down (TYPE gauge), set by events or read when scraped.
class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Upper bounds of histogram buckets (le), strictly increasing and finite; +Inf is implied.
using Buckets = std::vector<double>;
// start, start*factor, ... (count bounds); start > 0, factor > 1.
Buckets exponential_buckets(double start, double factor, std::size_t count);
// start, start+width, ... (count bounds); width > 0.
Buckets linear_buckets(double start, double width, std::size_t count);

// Observations counted into buckets (TYPE histogram): bucket i counts values <= bounds[i]
// (rendered cumulatively, as the format wants), plus _sum and _count.
class Histogram {
 public:
  explicit Histogram(const Buckets& bounds);
  void observe(double v);
  // For observations counted by a lower layer into the same bounds, copied in when scraped:
  // `per_bucket` holds one count per bound plus +Inf last (not cumulative). A size that does
  // not match is a programming error (std::invalid_argument).
  void assign(const std::vector<std::uint64_t>& per_bucket, double sum);
  const Buckets& bounds() const { return bounds_; }
  // Cumulative counts, one per bound plus the +Inf bucket last (== count()).
  std::vector<std::uint64_t> cumulative() const;
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  Buckets bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative; +Inf last
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class Type { Counter, Gauge, Histogram };

using Labels = std::vector<std::string>;  // label values, in the family's label-name order

// The part of a family the registry renders.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends HELP, TYPE and the samples (nothing when the family has no child yet).
  virtual void render(std::string& out) const = 0;

 protected:
  std::string name_, help_;
  Type type_;
  std::vector<std::string> label_names_;
};

// Metrics of one name, one per combination of label values. Keep label values few (reply codes,
// listener addresses, status words): never addresses of mail or clients.
template <class M>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         Buckets buckets = {})
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        buckets_(std::move(buckets)) {}

  // The child for these label values (made on first use). The number of values must match the
  // label names (a programming error otherwise: std::invalid_argument).
  M& with(const Labels& values);
  // The child of a family without labels.
  M& get() { return with({}); }
  void render(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<M>> children_;
  Buckets buckets_;  // histograms only
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const Buckets& buckets,
                               const std::vector<std::string>& label_names = {});

  // The whole exposition, families in registration order.
  std::string render() const;

 private:
  template <class F>
  F& add(std::unique_ptr<F> f);
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// Format helpers (exposed for the tests).
bool valid_metric_name(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_label_name(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*, not "__" reserved
// A label value inside its quotes: \ -> \\, " -> \", newline -> \n.
std::string escape_label_value(std::string_view v);
// HELP text: \ -> \\, newline -> \n.
std::string escape_help(std::string_view v);
// A sample value as Go's ParseFloat reads it: shortest round-trip digits, +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace taube::metrics
