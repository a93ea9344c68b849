#include "metrics/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>

namespace taube::metrics {

namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (alpha || (colon && c == ':')) return true;
  return !first && c >= '0' && c <= '9';
}

// Atomic add for a double (std::atomic<double>::fetch_add is C++20 but a CAS loop states the
// relaxed order plainly and works with every libstdc++ the project builds with).
void add_to(std::atomic<double>& a, double d) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + d, std::memory_order_relaxed)) {
  }
}

const char* type_name(Type t) {
  switch (t) {
    case Type::Counter:
      return "counter";
    case Type::Gauge:
      return "gauge";
    case Type::Histogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"` without the closing brace (a histogram appends le), or "" for no labels.
std::string label_text(const std::vector<std::string>& names, const Labels& values) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) {
    s += i == 0 ? "{" : ",";
    s += names[i];
    s += "=\"";
    s += escape_label_value(values[i]);
    s += '"';
  }
  return s;
}

void sample(std::string& out, const std::string& name, const std::string& labels,
            const std::string& value) {
  out += name;
  if (!labels.empty()) out += labels + "}";
  out += ' ';
  out += value;
  out += '\n';
}

void check_buckets(const Buckets& b) {
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i])) throw std::invalid_argument("histogram bucket bound not finite");
    if (i > 0 && !(b[i] > b[i - 1]))
      throw std::invalid_argument("histogram bucket bounds must increase");
  }
}

template <class M>
std::unique_ptr<M> make_child(const Buckets&) {
  return std::make_unique<M>();
}
template <>
std::unique_ptr<Histogram> make_child<Histogram>(const Buckets& b) {
  return std::make_unique<Histogram>(b);
}

void render_child(std::string& out, const FamilyBase& f, const Labels& values, const Counter& c) {
  sample(out, f.name(), label_text(f.label_names(), values), std::to_string(c.value()));
}
void render_child(std::string& out, const FamilyBase& f, const Labels& values, const Gauge& g) {
  sample(out, f.name(), label_text(f.label_names(), values), format_value(g.value()));
}
void render_child(std::string& out, const FamilyBase& f, const Labels& values, const Histogram& h) {
  const std::string labels = label_text(f.label_names(), values);
  const std::string open = labels.empty() ? "{" : labels + ",";
  // Read the buckets first and take count as their total, so that a scrape racing an
  // observation never shows _count below the +Inf bucket.
  const auto cum = h.cumulative();
  for (std::size_t i = 0; i < cum.size(); ++i) {
    const std::string le = i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf";
    out += f.name() + "_bucket" + open + "le=\"" + le + "\"} " + std::to_string(cum[i]) + "\n";
  }
  sample(out, f.name() + "_sum", labels, format_value(h.sum()));
  sample(out, f.name() + "_count", labels, std::to_string(cum.back()));
}

}  // namespace

void Gauge::add(double d) {
  add_to(v_, d);
}

Buckets exponential_buckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1)) throw std::invalid_argument("exponential_buckets");
  Buckets b;
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

Buckets linear_buckets(double start, double width, std::size_t count) {
  if (!(width > 0)) throw std::invalid_argument("linear_buckets");
  Buckets b;
  for (std::size_t i = 0; i < count; ++i) b.push_back(start + width * static_cast<double>(i));
  return b;
}

Histogram::Histogram(const Buckets& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  check_buckets(bounds_);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  // le semantics: the first bucket whose bound is >= v. NaN is <= no bound: +Inf only, as in
  // the Go client (lower_bound would put it in the first bucket).
  const auto it =
      std::isnan(v) ? bounds_.end() : std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  add_to(sum_, v);
}

void Histogram::assign(const std::vector<std::uint64_t>& per_bucket, double sum) {
  if (per_bucket.size() != bounds_.size() + 1) throw std::invalid_argument("Histogram::assign");
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < per_bucket.size(); ++i) {
    counts_[i].store(per_bucket[i], std::memory_order_relaxed);
    total += per_bucket[i];
  }
  count_.store(total, std::memory_order_relaxed);
  sum_.store(sum, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> c(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    c[i] = total;
  }
  return c;
}

FamilyBase::FamilyBase(std::string name, std::string help, Type type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_)) throw std::invalid_argument("invalid metric name " + name_);
  std::set<std::string> seen;
  for (const auto& l : label_names_) {
    if (!valid_label_name(l)) throw std::invalid_argument(name_ + ": invalid label name " + l);
    if (type_ == Type::Histogram && l == "le")
      throw std::invalid_argument(name_ + ": \"le\" is the histogram's own label");
    if (!seen.insert(l).second) throw std::invalid_argument(name_ + ": duplicate label " + l);
  }
}

template <class M>
M& Family<M>::with(const Labels& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument(name_ + ": wrong number of label values");
  const std::lock_guard<std::mutex> lock(mu_);
  auto& slot = children_[values];
  if (!slot) slot = make_child<M>(buckets_);
  return *slot;
}

template <class M>
void Family<M>::render(std::string& out) const {
  const std::lock_guard<std::mutex> lock(mu_);
  if (children_.empty()) return;
  out += "# HELP " + name_ + " " + escape_help(help_) + "\n";
  out += "# TYPE " + name_ + " " + type_name(type_) + "\n";
  for (const auto& [values, child] : children_) render_child(out, *this, values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class F>
F& Registry::add(std::unique_ptr<F> f) {
  // A histogram's series names (_bucket, _sum, _count) must not collide with another family.
  for (const auto& g : families_) {
    auto clash = [&](const FamilyBase& a, const FamilyBase& b) {
      if (a.name() == b.name()) return true;
      if (a.type() != Type::Histogram) return false;
      for (const char* s : {"_bucket", "_sum", "_count"})
        if (a.name() + s == b.name()) return true;
      return false;
    };
    if (clash(*g, *f) || clash(*f, *g))
      throw std::invalid_argument("metric " + f->name() + " registered twice");
  }
  F& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   const std::vector<std::string>& label_names) {
  return add(std::make_unique<Family<Counter>>(name, help, Type::Counter, label_names));
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names) {
  return add(std::make_unique<Family<Gauge>>(name, help, Type::Gauge, label_names));
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       const Buckets& buckets,
                                       const std::vector<std::string>& label_names) {
  check_buckets(buckets);
  return add(
      std::make_unique<Family<Histogram>>(name, help, Type::Histogram, label_names, buckets));
}

std::string Registry::render() const {
  std::string out;
  for (const auto& f : families_) f->render(out);
  return out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true)) return false;
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false)) return false;
  return true;
}

std::string escape_label_value(std::string_view v) {
  std::string s;
  s.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      s += "\\\\";
    else if (c == '"')
      s += "\\\"";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s;
}

std::string escape_help(std::string_view v) {
  std::string s;
  s.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      s += "\\\\";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace taube::metrics
