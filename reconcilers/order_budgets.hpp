// The rate-limit budgets as the executor spends them: what an order is charged (by account, by
// registered domain, by exact name set, by identifier for failed validations), what is exempt
// (a renewal naming the certificate it replaces; a same-set renewal for the orders and
// registered-domain limits), the CA's rateLimited answer taken over the local count, and the
// state kept after every change so that a restart resumes it: in STATE_DIR/budgets, written
// atomically, or for replicas on etcd in the store, where the next leader finds it.
// design/0005-ca-etiquette.md has the decisions.
#pragma once

#include "reconcilers/budgets.hpp"
#include "reconcilers/certificate_state.hpp"
#include "stores/budget_keeper.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace certherd::reconcilers {

/// \brief RATE_LIMITS as a file: one limit per line, "name capacity period" with the period in
/// s, m, h or d ("certificates_per_domain 50 7d"); '#' starts a comment. The error names the
/// line and what is wrong with it.
outcome<std::vector<rate_limit>> parse_rate_limits(std::string_view text);

/// \brief What an order for `spec` is charged, given what is held and whether the order names
/// the certificate it replaces (RFC 9773). The exact-set limit is always charged: certherd's
/// own guard against an order loop, whatever the CA exempts.
std::vector<charge> order_charges(const cert_spec& spec, const std::optional<local_copy>& local,
                                  bool replaces);

/// \brief The words for a wait: "waiting for the example.com budget (certificates per
/// registered domain, 50 per 168 h) until 2027-01-01T00:00:00Z".
std::string describe(const budget_wait& w, const std::vector<rate_limit>& limits);

class order_budgets {
 public:
  /// \param file where the state is kept; empty: in memory only.
  order_budgets(std::vector<rate_limit> limits, std::filesystem::path file);
  /// \param keeper where the state is kept; null: in memory only.
  order_budgets(std::vector<rate_limit> limits, std::unique_ptr<stores::budget_keeper> keeper);

  /// \brief Reads the kept state; a state that cannot be read is reported (and never written
  /// over until the next change), a line that does not read is left out.
  outcome<> load(sys_seconds now);
  /// \brief Takes in a state another process kept (what a replica's watch brings): for every
  /// key, the later of the two times is kept, so nothing spent is forgotten; a line this process
  /// wrote itself (its own write coming back) is left out, so a refund made since stands.
  void merge(std::string_view text, sys_seconds now) { b_.load_text(text, now, true); }

  std::optional<budget_wait> wait_for(const std::vector<charge>& charges, sys_seconds now) const;
  /// \brief Spends the charges (before the order is sent: two orders cannot both take the last
  /// event) and keeps the state.
  void spend(const std::vector<charge>& charges, sys_seconds now);
  /// \brief The order issued nothing: the limits that count certificates get theirs back.
  void not_issued(const std::vector<charge>& charges, sys_seconds now);
  /// \brief The CA refused validation of the order: each identifier is charged a failure.
  void failed_validation(const std::vector<std::string>& hosts, sys_seconds now);
  /// \brief The CA said rateLimited: the limit its detail names (or, when it names none, the
  /// order's registered domains and exact set) is spent until `until`.
  void rate_limited(const std::vector<charge>& charges, std::string_view detail, sys_seconds until,
                    sys_seconds now);

  int remaining(const charge& c, sys_seconds now) const { return b_.remaining(c, now); }
  const std::vector<rate_limit>& limits() const { return b_.limits(); }
  /// \brief Every (limit, key) spent and not full again, with what it has left (metrics).
  struct usage {
    std::string limit, key;
    int remaining = 0;
  };
  std::vector<usage> in_use(sys_seconds now) const;
  /// \brief Why the last save failed, empty when it did not.
  const std::string& save_error() const { return save_error_; }

 private:
  void save(sys_seconds now);
  budgets b_;
  std::unique_ptr<stores::budget_keeper> keeper_;
  std::string save_error_;
};

}  // namespace certherd::reconcilers
