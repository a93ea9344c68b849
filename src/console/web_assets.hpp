// The console's static files (web/), compiled into the binary by cmake/embed_files.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace taube::console {

struct WebAsset {
  std::string_view path;          // relative to web/: "index.html", "app.js"
  std::string_view content_type;  // from the extension
  std::string_view data;
};

const std::vector<WebAsset>& web_assets();
// The asset at `path` (relative to web/), or null.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace taube::console
