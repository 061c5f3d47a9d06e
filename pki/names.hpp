// Host names as ACME HTTP-01 identifiers: what is accepted and why not. Validation is pure and
// shared by the CLI and (later) the DOMAINS and label sources, so every source reports the same
// reason for the same bad name.
#pragma once

#include "pki/error.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace certherd::pki {

/// \brief `raw` without surrounding white space.
std::string_view trim(std::string_view raw) noexcept;

/// \brief The items of a comma-separated list, as written (untrimmed; empty ones kept, so that
/// "a,,b" has three and "" has one): DOMAINS, ALLOWED_DOMAINS, ETCD_ENDPOINTS, STORE_KEY_FILE.
std::vector<std::string_view> split_list(std::string_view text);

/// \brief Lower-cases ASCII letters, trims surrounding white space and one trailing dot.
std::string normalize_host(std::string_view raw);

/// \brief Checks a normalized name: LDH labels of 1–63 characters, 253 characters at most, at
/// least two labels, no wildcard (HTTP-01 cannot prove one), no IP address, ASCII only
/// (internationalized names must come as punycode "xn--" labels).
result<void> check_host(std::string_view host);

}  // namespace certherd::pki
