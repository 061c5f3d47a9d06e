// The registered domain of a host name ("shop.example.co.uk" → "example.co.uk"), by the Public
// Suffix List as Let's Encrypt counts its certificates-per-domain limit: Debian's libpsl with the
// list from Debian's `publicsuffix` package (ICANN and private sections), never a hand-written
// rule.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace certherd::pki {

/// \brief The registered domain of `host`, in lower case (`host` is lower-cased and one
/// trailing dot dropped first), or nullopt when `host` is itself a public suffix, has an empty
/// label, or is not a name the list can answer for.
std::optional<std::string> registered_domain(std::string_view host);

}  // namespace certherd::pki
