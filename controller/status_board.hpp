// What certherd knows about its own state, for people and for Prometheus: every managed
// certificate with its hosts, who asks for it, how its held copy classifies, when it expires and
// is renewed, its failures and the reconciler's last decision with the reason; the latest
// decisions of all certificates; counters of ACME requests (by endpoint and status, with a
// latency histogram), reconciles and Rancher events. Rendered as JSON (/status) and in the
// Prometheus text format (/metrics, through prometheus-cpp's core). Nothing here ever holds a key,
// a secret or a credential: only names, times and reasons.
#pragma once

#include "reconcilers/order_budgets.hpp"

#include "reconcilers/certificate_executor.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
template <class T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace certherd::controller {

struct decision_record {
  reconcilers::sys_seconds at{};
  std::string name;
  std::string actions;  ///< "issue, push rancher" or "" for nothing to do
  std::string reason;
  std::vector<std::string> outcomes;
  bool failed = false;
  std::optional<failure_kind> failed_kind;
};

/// \brief Live figures the board does not own, read when it renders.
struct live_figures {
  std::size_t queue_depth = 0;
  std::size_t in_flight = 0;
  bool rancher_configured = false;
  std::string rancher_state;  ///< connecting, connected, waiting, …
  std::size_t rancher_events = 0;
  std::size_t rancher_resyncs = 0;
  bool ready = false;
  std::size_t status_renders = 0;  ///< /status and page renderings (at most one a second each)
  /// Per rate limit: its bound, the least any key has left, the keys with nothing left.
  struct budget_figure {
    std::string limit;
    int capacity = 0;
    std::chrono::seconds period{0};
    int least_remaining = 0;
    std::size_t keys_exhausted = 0;
  };
  std::vector<budget_figure> budgets;
  /// STORE=etcd: the store and the election.
  struct etcd_figure {
    bool leader = false;
    std::string holder;  ///< who leads, as the election key names it
    std::size_t elections = 0;
    std::size_t leader_losses = 0;
    bool watching = false;
    /// Since when (Unix seconds) no etcd member has answered; 0: etcd answers.
    std::int64_t unreachable_since = 0;
    std::size_t requests = 0;
    std::int64_t revision = 0;
    std::size_t unreadable = 0;
    std::string last_error;
  };
  std::optional<etcd_figure> etcd;
};

/// \brief What the budgets amount to, per limit (bounded: one series per limit, not per key).
std::vector<live_figures::budget_figure> budget_figures(const reconcilers::order_budgets& b,
                                                        reconcilers::sys_seconds now);

class status_board {
 public:
  explicit status_board(reconcilers::renewal_policy policy);
  ~status_board();

  /// \brief Records a reconcile (from runtime::on_reconciled).
  void reconciled(const reconcilers::cert_spec& spec, const reconcilers::reconcile_report& report,
                  reconcilers::sys_seconds now);
  /// \brief Records an ACME request (from acme::driver's observer).
  void acme_request(std::string_view endpoint, unsigned status, double seconds);

  /// \brief Every desired certificate has been reconciled at least once.
  bool all_seen(const std::map<std::string, reconcilers::cert_spec>& desired) const;

  /// \brief /status: the desired set with what the store holds (`held`: the local copies the
  /// executor derived) and the last decisions.
  std::string to_json(const std::map<std::string, reconcilers::cert_spec>& desired,
                      const reconcilers::observation_cache& held, const live_figures& live,
                      reconcilers::sys_seconds now) const;
  /// \brief /metrics in the Prometheus text exposition format.
  std::string to_prometheus(const std::map<std::string, reconcilers::cert_spec>& desired,
                            const reconcilers::observation_cache& held,
                            const live_figures& live) const;

  /// \brief The status page for people (controller/status_page.cpp): the same facts as /status,
  /// readable on a phone, refreshing itself.
  std::string to_html(const std::map<std::string, reconcilers::cert_spec>& desired,
                      const reconcilers::observation_cache& held, const live_figures& live,
                      reconcilers::sys_seconds now) const;

  const std::deque<decision_record>& recent() const noexcept { return recent_; }

 private:
  struct per_certificate {
    decision_record last;
    std::optional<reconcilers::sys_seconds> next_look;
    std::optional<reconcilers::sys_seconds> renewal_at;
  };
  std::map<std::string, per_certificate> certificates_;
  std::deque<decision_record> recent_;  // newest first, bounded
  reconcilers::renewal_policy policy_;
  reconcilers::sys_seconds started_;
  std::size_t reconciles_ok_ = 0, reconciles_failed_ = 0;
  // Counters and histograms live in a registry of their own; gauges are built per scrape from
  // the board, so a certificate that is no longer managed leaves no stale series behind.
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* acme_requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* acme_latency_ = nullptr;
};

}  // namespace certherd::controller
