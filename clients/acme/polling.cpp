#include "clients/acme/polling.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace certherd::acme {

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ')
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec != std::errc()) return std::nullopt;
    return std::min(std::chrono::seconds(secs), kMaxRetryAfter);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  char weekday[4] = {}, month[4] = {}, zone[4] = {};
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  std::string text(value);
  // Widths bound every number: a 30-digit year must not overflow an int inside sscanf.
  if (std::sscanf(text.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d %3s", weekday, &day, month, &year,
                  &hh, &mm, &ss, zone) != 8 ||
      std::strcmp(zone, "GMT") != 0) {
    return std::nullopt;
  }
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(month, months[i]) == 0) mon = i;
  }
  if (mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  // In seconds: a date past 2262 does not fit system_clock's nanoseconds.
  auto delta = std::chrono::seconds(static_cast<long long>(timegm(&tm))) -
               std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  return std::clamp(delta, std::chrono::seconds(0), kMaxRetryAfter);
}

std::optional<std::chrono::milliseconds> poll_schedule::next(
    std::optional<std::chrono::seconds> retry_after) {
  using std::chrono::milliseconds;
  if (waited_ >= policy_.bound) return std::nullopt;
  milliseconds wait = next_;
  if (retry_after) {
    wait = std::clamp<milliseconds>(*retry_after, policy_.first, policy_.max_retry_after);
  } else {
    next_ = std::min(milliseconds(static_cast<long long>(next_.count() * policy_.growth)),
                     policy_.max_interval);
  }
  wait = std::min(wait, policy_.bound - waited_);
  waited_ += wait;
  return wait;
}

}  // namespace certherd::acme
