// plan(): the declarative heart of certherd. Given the desired certificate, the store's copy, what
// each target serves, the time and the policy, it returns what to do, when to look again and why,
// in words a person can read. It does no I/O: every branch of the original project's
// cert_manager() flowchart (design/architecture.md) is a row of
// tests/unit/certificate_reconciler_test.cpp.
#pragma once

#include "reconcilers/certificate_state.hpp"
#include "reconcilers/renewal_policy.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

enum class action_kind {
  issue,      ///< obtain a new certificate for the spec from its directory
  push,       ///< put the local copy on `target` (update in place or create)
  bootstrap,  ///< put a self-signed placeholder on `target`, which has nothing to serve
  conflict,   ///< `target` holds a valid certificate of another CA: leave it, report it
};

std::string_view to_string(action_kind k) noexcept;

struct planned_action {
  action_kind kind;
  std::string target;  ///< empty for issue
  std::string reason;
  friend bool operator==(const planned_action&, const planned_action&) = default;
};

std::ostream& operator<<(std::ostream& os, const planned_action& a);

struct reconcile_policy {
  renewal_policy renewal;
  bool adopt_foreign = false;           ///< overwrite valid certificates of other CAs
  bool bootstrap_placeholders = false;  ///< serve a self-signed certificate until one is issued
};

/// \brief An order that must wait for a rate-limit budget: until when, and why in words.
struct order_hold {
  sys_seconds until;
  std::string reason;  ///< "waiting for the example.com budget (…) until …"
};

struct plan_result {
  std::vector<planned_action> actions;
  std::optional<sys_seconds> requeue_at;  ///< when to reconcile again (none: on events only)
  std::string reason;                     ///< one line: the state and what is done about it
  std::optional<order_hold> held_back;    ///< the order it would place waits for a budget
};

/// \brief When a held certificate is due, and by which rule, for people.
struct renewal_due {
  sys_seconds at;
  std::string rule;  ///< "the CA's window 2027-01-01T00:00:00Z..2027-01-02T00:00:00Z (ARI)"
  bool by_ari = false;
};

/// \brief The renewal time of the held certificate: the time chosen in the CA's ARI window when
/// there is one, never later than halfway through the local rule's window (so a CA that stops
/// answering, or suggests a window past expiry, cannot stop a renewal), and for a certificate
/// that itself replaced one early, not before 1/50 of its lifetime (a CA answering "now" to
/// every new certificate cannot make orders follow one another); else the local rule
/// (1/3 of the lifetime left, 1/2 under 10 days, or RENEW_BEFORE_DAYS).
renewal_due renewal_of(const local_copy& local, const renewal_policy& policy);

/// \brief The longest an order held back by a budget waits before it is planned again.
inline constexpr std::chrono::seconds kHoldRecheck{3600};

/// \brief Decides what to do for one certificate. Pure: same inputs, same plan. With `hold`,
/// an issuance it would plan before `hold->until` is planned for then instead.
plan_result plan(const cert_spec& spec, const std::optional<local_copy>& local,
                 const std::vector<target_copy>& targets, sys_seconds now,
                 const reconcile_policy& policy,
                 const std::optional<order_hold>& hold = std::nullopt);

/// \brief Why the local copy does not serve the spec, or empty when it does (renewal aside).
std::string mismatch(const cert_spec& spec, const local_copy& local);

}  // namespace certherd::reconcilers
