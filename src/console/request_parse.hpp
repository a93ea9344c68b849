// What the console reads out of a request, strictly: a query string (RFC 3986 §3.4, with the
// HTML form convention of '+' for a space), the Cookie header (RFC 6265 §5.4), and a small JSON
// object body (RFC 8259) whose values are strings, arrays of strings, or true/false. Every
// parser is pure and bounded; every error is a sentence for the 400 answer.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

namespace taube::console {

// "a=1&b=x+y" -> {("a","1"), ("b","x y")}, in order. Percent escapes must be complete hex
// pairs; a decoded NUL or control character is an error; an empty query is no pairs.
tl::expected<std::vector<std::pair<std::string, std::string>>, std::string> parse_query(
    std::string_view query);

// "a=1; b=2" -> {a: 1, b: 2}; the first of a repeated name wins. Malformed pairs are skipped
// (RFC 6265 §5.2: a user agent drops them too), never an error.
std::map<std::string, std::string> parse_cookies(std::string_view header);

using JsonValue = std::variant<std::string, std::vector<std::string>, bool>;
using JsonObject = std::map<std::string, JsonValue>;

// One JSON object with at most `max_members` members, nesting only arrays of strings inside
// it. Duplicate names are an error (RFC 8259 §4 leaves them undefined; an API should not guess).
tl::expected<JsonObject, std::string> parse_json_object(std::string_view text,
                                                        std::size_t max_members = 16);

// Typed look-ups of a parsed object: the value, nothing when absent, an error when the type is
// wrong ("\"ids\" must be an array of strings").
tl::expected<std::optional<std::string>, std::string> json_string(const JsonObject& o,
                                                                  const std::string& key);
tl::expected<std::optional<std::vector<std::string>>, std::string> json_strings(
    const JsonObject& o, const std::string& key);

}  // namespace taube::console
