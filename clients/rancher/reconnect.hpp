// When the event websocket connects again (sans-I/O: the subscriber owns the timer). A renewal
// before Rancher's 12-hour limit reconnects at once; every other end waits a backoff with jitter
// that doubles up to a cap, and only a session that lasted resets it — a server that accepts and
// drops at once (or logs out at once) must not be hammered at the minimum interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace certherd::rancher {

enum class session_end {
  not_connected,  ///< resolve, connect, TLS or upgrade failed
  dropped,        ///< the socket closed, timed out, or a read failed
  logout,         ///< Rancher sent logout
  renewal,        ///< certherd ended it before the server's subscription limit
};

std::string_view to_string(session_end e) noexcept;

/// Sessions that ran this long reset the backoff.
inline constexpr std::chrono::seconds kLastingSession{10};

class reconnect_policy {
 public:
  reconnect_policy(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(min), max_(max), backoff_(min) {}

  /// \brief The wait before the next connection after a session that ended as `how` and ran
  /// `ran`; `random` is any uniformly random number (the jitter: up to half the backoff).
  std::chrono::milliseconds next(session_end how, std::chrono::milliseconds ran,
                                 std::uint64_t random);

  std::chrono::milliseconds backoff() const noexcept { return backoff_; }

 private:
  std::chrono::milliseconds min_, max_, backoff_;
};

}  // namespace certherd::rancher
