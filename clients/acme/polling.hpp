// When to look again at a pending ACME resource: Retry-After parsing (RFC 9110 §10.2.3, seconds
// or an HTTP-date) with clamping, and a poll schedule that starts fast (Pebble validates in well
// under a second with its sleep off), backs off, honours Retry-After and gives up after a bound.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace certherd::acme {

/// \brief The longest wait a Retry-After can ask for: a day, as Let's Encrypt documents. A CA
/// (or anything between) answering more must not park a certificate for years, nor overflow a
/// timer.
inline constexpr std::chrono::seconds kMaxRetryAfter{24 * 3600};

/// \brief Seconds to wait from `now`: a delay-seconds value, or an IMF-fixdate minus now (zero
/// when in the past), at most kMaxRetryAfter. nullopt for anything else.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

struct poll_policy {
  std::chrono::milliseconds first{50};
  std::chrono::milliseconds max_interval{std::chrono::seconds(3)};
  double growth = 2.0;
  /// A Retry-After beyond this is cut down to it, so one odd header cannot stall an order.
  std::chrono::milliseconds max_retry_after{std::chrono::seconds(60)};
  /// Total waiting allowed for one resource.
  std::chrono::milliseconds bound{std::chrono::minutes(3)};
};

class poll_schedule {
 public:
  explicit poll_schedule(poll_policy policy) : policy_(policy), next_(policy.first) {}

  /// \brief The next wait, or nullopt once the bound is spent.
  std::optional<std::chrono::milliseconds> next(std::optional<std::chrono::seconds> retry_after);

  std::chrono::milliseconds waited() const noexcept { return waited_; }

 private:
  poll_policy policy_;
  std::chrono::milliseconds next_;
  std::chrono::milliseconds waited_{0};
};

}  // namespace certherd::acme
