// Carries plans out. One reconcile of a certificate: observe the store's record and every
// target, plan(), then act — issue, push, bootstrap, report conflicts — and observe again until
// nothing is left to do (a few rounds at most). Failures are recorded in the store with their
// backoff, so neither a retry storm nor a restart resets them.
#pragma once

#include "reconcilers/certificate_reconciler.hpp"
#include "reconcilers/chain_facts.hpp"
#include "reconcilers/issuer.hpp"
#include "reconcilers/order_budgets.hpp"
#include "reconcilers/target.hpp"
#include "stores/certificate_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

/// \brief What was derived from each store record (parsing and classifying a chain costs a
/// signature check), kept until the record's version changes: a resync that finds nothing to do
/// then costs a stat() per certificate.
struct observation_cache {
  struct entry {
    stores::file_stamp version;
    local_copy local;
  };
  std::map<std::string, entry> entries;

  /// A record the store refused to take (a full or read-only disk, an I/O error): kept here and
  /// saved again with a backoff. Until then it stands in for the store's copy, so a certificate
  /// that was issued is served and never ordered again, and a failure count is never lost.
  struct unsaved {
    stores::stored_certificate record;
    int failures = 0;  ///< failed saves in a row
    sys_seconds since{};
    sys_seconds next_try{};
    std::string error;
  };
  std::map<std::string, unsaved> unsaved_records;
};

/// \brief How long to wait before saving again after `failures` failed saves: 1, 2, 4, 8 min,
/// then every 10 min (a disk frees up when someone acts, and a save costs nothing at the CA).
std::chrono::seconds save_retry_delay(int failures);

struct executor_deps {
  stores::certificate_store& store;
  const pki::trust_anchors& anchors;
  reconcilers::issuer* issuer = nullptr;  ///< null: plan only
  std::vector<target*> targets;
  reconcile_policy policy;
  std::function<sys_seconds()> clock;
  /// What was derived from records, and the records the store refused. Without one, a record
  /// the store refuses is kept for the rest of this reconcile only.
  observation_cache* cache = nullptr;
  /// What held chains say, remembered across restarts; without one every chain is read.
  chain_facts_memo* facts = nullptr;
  /// 64 random bits, for the time chosen in an ARI window; null: std::random_device.
  std::function<std::uint64_t()> random = {};
  /// Asked just before an order is placed; false: not now (STORE=etcd: this replica does not
  /// lead by its own clock). Empty: always.
  std::function<bool()> may_order = {};
  /// The rate-limit budgets orders are charged to; null: none (RATE_LIMITS=off).
  order_budgets* budgets = nullptr;
};

struct reconcile_report {
  plan_result decision;               ///< the first plan, before anything was done
  std::vector<std::string> outcomes;  ///< what was done, one line each
  std::optional<sys_seconds> requeue_at;
  bool failed = false;
  std::optional<failure_kind> failed_kind;  ///< the kind of the (last) failure, when failed
};

/// \brief The local_copy a stored record amounts to (classification needs the anchors; the
/// memo, when there is one, spares reading a chain it remembers).
local_copy to_local_copy(const stores::stored_certificate& record,
                         const pki::trust_anchors& anchors, chain_facts_memo* facts = nullptr);

/// \brief Adds what the cache holds of each certificate's chain to a new memo file.
void add_chain_facts(const observation_cache& cache, chain_facts_memo::writer& w);

/// \brief Observes and plans; with `act`, also carries the plan out.
boost::asio::awaitable<reconcile_report> reconcile(cert_spec spec, executor_deps& deps, bool act);

}  // namespace certherd::reconcilers
