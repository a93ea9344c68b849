// TableReader: reads one TOML table of the configuration, remembering which keys were used so
// the rest can be reported as unknown; every error names the file, line and key
// ("taube.toml:12: limits.max_errors: expected an integer"). Shared by the config readers.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>
#include <tl/expected.hpp>

#include "inet/cidr.hpp"

namespace taube::app {

// Parses a TOML file; a syntax error names the file and line ("taube.toml:12: ...").
inline tl::expected<toml::table, std::string> parse_toml_file(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return tl::unexpected(path + ":" + std::to_string(e.source().begin.line) + ": " +
                          std::string(e.description()));
  }
}

// Reads one TOML table, remembering which keys were used so the rest can be reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& t, std::string prefix, std::string file)
      : t_(t), prefix_(std::move(prefix)), file_(std::move(file)) {}

  std::string where(const toml::node* n, std::string_view key) const {
    const auto line = n ? n->source().begin.line : t_.source().begin.line;
    return file_ + ":" + std::to_string(line) + ": " + prefix_ + std::string(key);
  }

  const toml::table& table() const { return t_; }

  const toml::node* get(std::string_view key) {
    seen_.insert(std::string(key));
    return t_.get(key);
  }

  tl::expected<void, std::string> str(std::string_view key, std::string& out) {
    const auto* n = get(key);
    if (!n) return {};
    if (!n->is_string()) return tl::unexpected(where(n, key) + ": expected a string");
    out = n->as_string()->get();
    return {};
  }
  tl::expected<void, std::string> boolean(std::string_view key, bool& out) {
    const auto* n = get(key);
    if (!n) return {};
    if (!n->is_boolean()) return tl::unexpected(where(n, key) + ": expected true or false");
    out = n->as_boolean()->get();
    return {};
  }
  template <class T>
  tl::expected<void, std::string> integer(std::string_view key, T& out, std::int64_t min,
                                          std::int64_t max) {
    const auto* n = get(key);
    if (!n) return {};
    if (!n->is_integer()) return tl::unexpected(where(n, key) + ": expected an integer");
    const auto v = n->as_integer()->get();
    if (v < min || v > max)
      return tl::unexpected(where(n, key) + ": must be between " + std::to_string(min) + " and " +
                            std::to_string(max));
    out = static_cast<T>(v);
    return {};
  }
  tl::expected<void, std::string> seconds(std::string_view key, std::chrono::milliseconds& out) {
    const auto* n = get(key);
    if (!n) return {};
    double v;
    if (n->is_integer()) {
      v = static_cast<double>(n->as_integer()->get());
    } else if (n->is_floating_point()) {
      v = n->as_floating_point()->get();
    } else {
      return tl::unexpected(where(n, key) + ": expected a number of seconds");
    }
    if (!(v > 0) || v > 86400)
      return tl::unexpected(where(n, key) + ": must be more than 0 and at most 86400 seconds");
    out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
    return {};
  }
  tl::expected<void, std::string> seconds_or_zero(std::string_view key,
                                                  std::chrono::milliseconds& out) {
    const auto* n = get(key);
    if (n && (n->is_integer() || n->is_floating_point())) {
      const double v = n->is_integer() ? static_cast<double>(n->as_integer()->get())
                                       : n->as_floating_point()->get();
      if (v == 0) {
        out = std::chrono::milliseconds(0);
        return {};
      }
      if (!(v > 0) || v > 86400)
        return tl::unexpected(where(n, key) + ": must be between 0 (off) and 86400 seconds");
    }
    return seconds(key, out);
  }
  tl::expected<void, std::string> strings(std::string_view key, std::vector<std::string>& out) {
    const auto* n = get(key);
    if (!n) return {};
    if (!n->is_array()) return tl::unexpected(where(n, key) + ": expected an array of strings");
    out.clear();
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) return tl::unexpected(where(&e, key) + ": expected an array of strings");
      out.push_back(e.as_string()->get());
    }
    return {};
  }
  tl::expected<void, std::string> no_unknown_keys() const {
    for (const auto& [k, v] : t_) {
      if (!seen_.count(std::string(k.str())))
        return tl::unexpected(where(&v, k.str()) + ": unknown key");
    }
    return {};
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  std::string file_;
  std::set<std::string> seen_;
};

#define TRY(expr)                                                 \
  do {                                                            \
    if (auto r_ = (expr); !r_) return tl::unexpected(r_.error()); \
  } while (0)

// A list of networks ("192.0.2.0/24", "2001:db8::/32", or single addresses).
inline tl::expected<void, std::string> networks(TableReader& r, std::string_view key,
                                                std::vector<inet::Cidr>& out) {
  std::vector<std::string> texts;
  TRY(r.strings(key, texts));
  out.clear();
  for (const auto& t : texts) {
    auto cidr = inet::Cidr::parse(t);
    if (!cidr) return tl::unexpected(r.where(r.get(key), key) + ": invalid network \"" + t + "\"");
    out.push_back(*cidr);
  }
  return {};
}

}  // namespace taube::app
