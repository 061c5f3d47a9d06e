// Times as people and JSON read them: RFC 3339 UTC with whole seconds. Formatted through
// gmtime_r on the seconds themselves, not through fmt's chrono support, which converts to the
// system clock's nanoseconds first and overflows past 2262 (a certificate can say 9999).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::pki {

/// \brief "2026-12-02T04:13:29Z" for years 0000 to 9999, "out-of-range" beyond.
std::string to_rfc3339(std::chrono::sys_seconds t);

/// \brief An RFC 3339 date-time ("2026-12-02T04:13:29Z", "…29.5+01:00", 'T'/'t', 'Z'/'z'), a
/// fraction dropped, a leap second read as :59. nullopt for anything else: a day the month does
/// not have, an hour past 23, an offset past 23:59, a missing part, a trailing byte.
std::optional<std::chrono::sys_seconds> from_rfc3339(std::string_view text);

}  // namespace certherd::pki
