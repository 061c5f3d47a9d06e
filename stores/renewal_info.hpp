// What the CA's renewal information (RFC 9773) said of the held certificate, as the store keeps
// it: the window, the time chosen in it (kept while the window stays, so a restart or a repeated
// poll does not move it) and when to ask again. Plain values; the reconciler fills them.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace certherd::stores {

struct renewal_info {
  std::string cert_id;   ///< the CertID of the leaf it is about (RFC 9773 §4.1)
  std::string leaf;      ///< that leaf's SHA-256 fingerprint: about another leaf, it is stale
  bool offered = false;  ///< the directory had renewalInfo when last asked
  std::optional<std::chrono::sys_seconds> window_start;  ///< with window_end: the last window
  std::optional<std::chrono::sys_seconds> window_end;
  std::optional<std::chrono::sys_seconds> renew_at;  ///< the time chosen in that window
  std::chrono::sys_seconds next_poll{};              ///< when to ask again; 0: at once
  int failures = 0;  ///< temporary failures in a row (no answer, 5xx)
  std::string note;  ///< for people: the explanation URL, or what the last answer lacked
  /// This leaf replaced the one before it ahead of the local rule, on the CA's word: its own
  /// replacement by ARI waits a little (see reconcilers::renewal_of).
  bool early = false;
};

}  // namespace certherd::stores
