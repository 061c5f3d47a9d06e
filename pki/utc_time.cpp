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

namespace {

// The number the `width` digits at `text[at]` make, or -1 when one is not a digit.
int digits(std::string_view text, std::size_t at, std::size_t width) {
  if (at + width > text.size()) return -1;
  int n = 0;
  for (std::size_t i = at; i < at + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    n = n * 10 + (text[i] - '0');
  }
  return n;
}

bool is(std::string_view text, std::size_t at, char c) {
  return at < text.size() && text[at] == c;
}

}  // namespace

std::optional<std::chrono::sys_seconds> from_rfc3339(std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS
  int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  int h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return std::nullopt;
  if (!is(text, 4, '-') || !is(text, 7, '-') || !(is(text, 10, 'T') || is(text, 10, 't')) ||
      !is(text, 13, ':') || !is(text, 16, ':'))
    return std::nullopt;
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  if (s == 60) s = 59;
  std::size_t at = 19;
  if (is(text, at, '.')) {
    std::size_t first = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9')
      ++at;
    if (at == first) return std::nullopt;
  }
  seconds offset{0};
  if (is(text, at, 'Z') || is(text, at, 'z')) {
    ++at;
  } else if (is(text, at, '+') || is(text, at, '-')) {
    int oh = digits(text, at + 1, 2), om = digits(text, at + 4, 2);
    if (oh < 0 || om < 0 || !is(text, at + 3, ':') || oh > 23 || om > 59) return std::nullopt;
    offset = hours{oh} + minutes{om};
    if (text[at] == '-') offset = -offset;
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  return sys_days{date} + hours{h} + minutes{mi} + seconds{s} - offset;
}

}  // namespace certherd::pki
