// Base64 (RFC 4648 §4) for SASL (RFC 4954): strict decoding, padding required.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace taube::smtp {

std::string base64_encode(std::string_view in);
// Returns nullopt for anything but canonical base64 (bad characters, missing padding, stray
// whitespace). The empty string decodes to the empty string.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace taube::smtp
