// Byte encodings and digests used across the project: base64url without padding (RFC 4648 §5,
// as JOSE requires), standard base64, lower-case hex, SHA-256 and HMAC-SHA-256.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace certherd::pki {

std::string base64url_encode(std::string_view bytes);
/// \brief Decodes base64url with or without padding; nullopt on any character outside the alphabet.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
/// \brief Decodes standard base64 (RFC 4648 §4) with or without padding; nullopt on any character
/// outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);

std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace certherd::pki
