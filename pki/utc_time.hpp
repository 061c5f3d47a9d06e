// Times as people and JSON read them: RFC 3339 UTC with whole seconds. Formatted through
// gmtime_r on the seconds themselves, not through fmt's chrono support, which converts to the
// system clock's nanoseconds first and overflows past 2262 (a certificate can say 9999).
#pragma once

#include <chrono>
#include <string>

namespace certherd::pki {

/// \brief "2026-12-02T04:13:29Z" for years 0000 to 9999, "out-of-range" beyond.
std::string to_rfc3339(std::chrono::sys_seconds t);

}  // namespace certherd::pki
