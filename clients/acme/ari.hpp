// ACME Renewal Information (RFC 9773), without I/O: a certificate's unique identifier (§4.1),
// the renewalInfo answer (§4.2), when in its window to renew (chosen once, kept while the window
// stays), and when to ask again (§4.3: Retry-After clamped, long-term errors after 6 h,
// temporary ones backed off). The renewal reconciler asks, stores and decides with these.
#pragma once

#include "pki/certificate.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::acme {

using sys_seconds = std::chrono::sys_seconds;

/// \brief base64url(keyIdentifier) "." base64url(the serial's DER INTEGER content octets), no
/// padding (RFC 9773 §4.1). `serial_content` keeps the leading 0x00 DER puts before a serial
/// whose first bit is set.
std::string cert_id(std::string_view key_identifier, std::string_view serial_content);

/// \brief The unique identifier of `leaf`, or nullopt with `why` when it has no Authority Key
/// Identifier keyIdentifier (ARI cannot name such a certificate).
std::optional<std::string> cert_id_of(const pki::certificate& leaf, std::string& why);

/// \brief A suggested window: renew at a time in [start, end).
struct renewal_window {
  sys_seconds start;
  sys_seconds end;
  std::string explanation_url;  ///< http(s), at most kMaxExplanationUrl bytes, else empty
  bool operator==(const renewal_window& o) const { return start == o.start && end == o.end; }
};

inline constexpr std::size_t kMaxExplanationUrl = 512;

/// \brief The window a renewalInfo body suggests, or nullopt with `why` (not JSON, no
/// suggestedWindow, a time that is not RFC 3339, end not after start: all long-term errors).
std::optional<renewal_window> parse_renewal_info(std::string_view body, std::string& why);

/// \brief A uniformly chosen second in [start, end) from `random` (any 64 bits); `start` for a
/// window that is not one (end <= start).
sys_seconds pick_in_window(const renewal_window& w, std::uint64_t random);

/// \brief The renewal time to keep: `kept` while the window is the one it was chosen in (a
/// repeated poll does not move it), else a new pick in `now`'s window; never after `latest`
/// (the local rule's time: a CA's window reaching past the certificate's expiry cannot stop
/// the renewal).
sys_seconds renewal_time(const renewal_window& now, const std::optional<renewal_window>& chosen_in,
                         std::optional<sys_seconds> kept, std::uint64_t random, sys_seconds latest);

/// What a renewalInfo request came to, for when to ask again.
enum class ari_answer {
  window,     ///< 200 with a valid window
  long_term,  ///< a 4xx, or a 200 whose body is not a valid window
  temporary,  ///< no answer, a timeout, a 5xx
};

/// Bounds of RFC 9773 §4.3 and the "at least twice a day".
inline constexpr std::chrono::seconds kAriMinRetry{60};
inline constexpr std::chrono::seconds kAriMaxRetry{24 * 3600};
inline constexpr std::chrono::seconds kAriLongTermRetry{6 * 3600};
inline constexpr std::chrono::seconds kAriMaxPollInterval{12 * 3600};

/// \brief When to ask again. A window: its Retry-After clamped to [1 min, 1 day] (6 h when there
/// was none), and never later than 12 h. A long-term error: 6 h. A temporary one: 1 min doubled
/// per consecutive temporary failure (`temporary_failures` counts this one), at most 6 h.
std::chrono::seconds next_ari_poll(ari_answer answer,
                                   std::optional<std::chrono::seconds> retry_after,
                                   int temporary_failures);

}  // namespace certherd::acme
