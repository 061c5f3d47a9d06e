#include "reconcilers/renewal_policy.hpp"

#include <algorithm>
#include <cstdint>

namespace certherd::reconcilers {
namespace {

// FNV-1a: a stable hash, so a certificate's jitter is the same in every build and run.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

using namespace std::chrono_literals;

sys_seconds renewal_time(sys_seconds not_before, sys_seconds not_after, const renewal_policy& p,
                         std::string_view seed) {
  auto lifetime = std::max(not_after - not_before, std::chrono::seconds(0));
  std::chrono::seconds window = lifetime < std::chrono::days(10) ? lifetime / 2 : lifetime / 3;
  if (p.renew_before) window = std::min(*p.renew_before, lifetime / 2);
  auto max_jitter = std::min(p.max_jitter, std::chrono::seconds(lifetime / 20));
  std::chrono::seconds jitter{0};
  if (max_jitter.count() > 0) {
    jitter = std::chrono::seconds(fnv1a(seed) % static_cast<std::uint64_t>(max_jitter.count()));
  }
  return not_after - window - jitter;
}

std::chrono::seconds backoff_delay(int failures) {
  switch (failures) {
    case 0:
      return 0s;
    case 1:
      return 1min;
    case 2:
      return 10min;
    case 3:
      return 100min;
    default:
      return std::chrono::days(1);
  }
}

sys_seconds next_retry_time(int failures, sys_seconds now, failure_kind kind,
                            std::optional<std::chrono::seconds> retry_after) {
  auto wait = backoff_delay(failures);
  if (retry_after) wait = std::max(wait, *retry_after);
  if (kind == failure_kind::rate_limited && !retry_after) wait = std::max(wait, kRateLimitedWait);
  return now + wait;
}

}  // namespace certherd::reconcilers
