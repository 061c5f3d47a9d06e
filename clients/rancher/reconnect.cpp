#include "clients/rancher/reconnect.hpp"

#include <algorithm>

namespace certherd::rancher {

std::string_view to_string(session_end e) noexcept {
  switch (e) {
    case session_end::not_connected:
      return "not_connected";
    case session_end::dropped:
      return "dropped";
    case session_end::logout:
      return "logout";
    case session_end::renewal:
      return "renewal";
  }
  return "dropped";
}

std::chrono::milliseconds reconnect_policy::next(session_end how, std::chrono::milliseconds ran,
                                                 std::uint64_t random) {
  if (how != session_end::not_connected && ran >= kLastingSession) backoff_ = min_;
  if (how == session_end::renewal) return std::chrono::milliseconds(0);
  auto jitter_span = static_cast<std::uint64_t>(backoff_.count() / 2) + 1;
  auto wait = backoff_ + std::chrono::milliseconds(static_cast<long>(random % jitter_span));
  backoff_ = std::min(backoff_ * 2, max_);
  return wait;
}

}  // namespace certherd::rancher
