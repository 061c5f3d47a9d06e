#include "pki/utc_time.hpp"

#include <fmt/format.h>

#include <ctime>
#include <limits>

namespace certherd::pki {

std::string to_rfc3339(std::chrono::sys_seconds t) {
  auto count = t.time_since_epoch().count();
  if (count < std::numeric_limits<std::time_t>::min() ||
      count > std::numeric_limits<std::time_t>::max()) {
    return "out-of-range";
  }
  std::time_t secs = static_cast<std::time_t>(count);
  std::tm tm{};
  if (!gmtime_r(&secs, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
    return "out-of-range";  // RFC 3339 has four-digit years
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900LL, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace certherd::pki
