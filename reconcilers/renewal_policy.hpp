// When to renew and when to retry. Renewal: when 1/3 of the lifetime remains (1/2 for lifetimes
// under 10 days), or RENEW_BEFORE_DAYS before expiry when set, minus a jitter derived from the
// certificate so many certificates do not renew in the same second (Let's Encrypt's integration
// guide). Failures back off 1 min, 10 min, 100 min, then daily, and never sooner than the CA's
// Retry-After. Pure functions of their inputs: deterministic in tests.
#pragma once

#include "reconcilers/failure.hpp"

#include <chrono>
#include <optional>
#include <string_view>

namespace certherd::reconcilers {

using sys_seconds = std::chrono::sys_seconds;

struct renewal_policy {
  /// RENEW_BEFORE_DAYS: renew this long before expiry instead of at 1/3 of the lifetime left.
  /// Never more than half the lifetime, so a short-lived certificate cannot loop.
  std::optional<std::chrono::seconds> renew_before;
  /// The largest jitter; the jitter of a certificate is also at most 1/20 of its lifetime.
  std::chrono::seconds max_jitter{std::chrono::hours(1)};
};

/// \brief The time at which a certificate valid over [not_before, not_after] is due.
/// \param seed any stable text of the certificate (its fingerprint) to derive the jitter from.
sys_seconds renewal_time(sys_seconds not_before, sys_seconds not_after, const renewal_policy& p,
                         std::string_view seed);

/// \brief The wait after the `failures`-th consecutive failure (1-based).
std::chrono::seconds backoff_delay(int failures);

/// \brief Least wait after a rateLimited answer that carried no Retry-After: Let's Encrypt's
/// limits refill over hours, and an earlier try only spends the next order.
inline constexpr std::chrono::seconds kRateLimitedWait{3600};

/// \brief When to try again after the `failures`-th consecutive failure, of `kind`, at `now`:
/// the backoff table, never sooner than the CA's Retry-After, and at least kRateLimitedWait
/// after a rate limit.
sys_seconds next_retry_time(int failures, sys_seconds now, failure_kind kind,
                            std::optional<std::chrono::seconds> retry_after);

}  // namespace certherd::reconcilers
