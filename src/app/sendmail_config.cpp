#include "app/sendmail_config.hpp"

#include "app/table_reader.hpp"

#include <toml++/toml.h>

#include "app/config.hpp"

namespace taube::app {

tl::expected<SubmitterConfig, std::string> load_submitter_config(const std::string& path) {
  const Config defaults = default_config();
  SubmitterConfig s;
  s.hostname = defaults.server.session.hostname;
  s.submit_socket = defaults.server.submit_socket;
  std::vector<std::string> domains = defaults.directory.domains;
  if (!path.empty()) {
    auto parsed = parse_toml_file(path);
    if (!parsed) return tl::unexpected(parsed.error());
    const toml::table& root = *parsed;
    auto bad = [&path](const char* key, const char* want) {
      return tl::unexpected(path + ": " + key + ": expected " + want);
    };
    if (const auto* n = root.get("hostname")) {
      if (!n->is_string()) return bad("hostname", "a string");
      s.hostname = n->as_string()->get();
    }
    if (const auto* n = root.at_path("delivery.domains").node()) {
      if (!n->is_array()) return bad("delivery.domains", "an array of strings");
      domains.clear();
      for (const auto& d : *n->as_array()) {
        if (!d.is_string()) return bad("delivery.domains", "an array of strings");
        domains.push_back(d.as_string()->get());
      }
    }
    if (const auto* n = root.at_path("queue.submit_socket").node()) {
      if (!n->is_string()) return bad("queue.submit_socket", "a string");
      s.submit_socket = n->as_string()->get();
    }
  }
  s.origin = domains.empty() ? s.hostname : domains.front();
  return s;
}

}  // namespace taube::app
