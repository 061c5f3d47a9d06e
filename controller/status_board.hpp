// What certherd knows about its own state, for people and for Prometheus: every managed
// certificate with its hosts, who asks for it, how its held copy classifies, when it expires and
// is renewed, its failures and the reconciler's last decisions with their reasons, and the one
// state it is in (controller/fleet_view: failing, expiring, waiting, conflict, pending, ready);
// the latest decisions of all certificates; the inputs the sources rejected; counters of ACME
// requests (by endpoint and status, with a latency histogram), reconciles and Rancher events.
// Kept as things change (design/0008-fleet-status.md): a certificate's JSON object, card and
// metric lines are rendered when it changes, and a request puts rendered pieces together.
// Rendered as JSON (/status, /status/NAME), HTML (the page) and in the Prometheus text format
// (/metrics). Nothing here ever holds a key, a secret or a credential: only names, times and
// reasons.
#pragma once

#include "controller/domains_source.hpp"
#include "controller/fleet_view.hpp"
#include "reconcilers/certificate_executor.hpp"
#include "reconcilers/order_budgets.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
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
  std::size_t status_renders = 0;  ///< /status and page requests answered
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

/// \brief What a request of the page or of /status asks for: `?state=failing&q=shop&page=2`.
struct status_query {
  std::optional<cert_state> state;
  std::string text;  ///< q: a substring of a name, host or source
  std::size_t page = 1;
  bool filtered() const noexcept { return state || !text.empty() || page > 1; }
};
/// \brief The query of a request target's query string (percent-decoded); an error naming the
/// parameter that is wrong otherwise. Unknown parameters are ignored.
std::variant<status_query, std::string> parse_status_query(std::string_view query);

class status_board {
 public:
  explicit status_board(reconcilers::renewal_policy policy);
  ~status_board();

  /// \brief The desired set changed (sources): rows for new certificates, removed ones gone,
  /// changed specs rendered again. `held` is the executor's cache.
  void desired(const std::map<std::string, reconcilers::cert_spec>& desired,
               const reconcilers::observation_cache& held, reconcilers::sys_seconds now);
  /// \brief Records a reconcile (from runtime::on_reconciled), with what the executor now holds.
  void reconciled(const reconcilers::cert_spec& spec, const reconcilers::reconcile_report& report,
                  const reconcilers::observation_cache& held, reconcilers::sys_seconds now);
  /// \brief What one source rejected now (replaces what it rejected before).
  void rejected(const std::string& source, std::vector<rejected_input> items);
  /// \brief Records an ACME request (from acme::driver's observer).
  void acme_request(std::string_view endpoint, unsigned status, double seconds);

  /// \brief Every desired certificate has been reconciled at least once.
  bool all_seen(const std::map<std::string, reconcilers::cert_spec>& desired) const;

  /// \brief /status: every certificate in the order of attention, or the page `filter` asks
  /// for, with the counts by state, the rejected inputs and the last decisions.
  std::string to_json(const live_figures& live, reconcilers::sys_seconds now,
                      const status_query* filter = nullptr);
  /// \brief /status/NAME: one certificate with its recent decisions; nullopt when not managed.
  std::optional<std::string> certificate_json(std::string_view name, reconcilers::sys_seconds now);
  /// \brief /metrics in the Prometheus text exposition format.
  std::string to_prometheus(const live_figures& live, reconcilers::sys_seconds now);
  /// \brief The status page (controller/status_page.cpp): counts by state, the certificates that
  /// need attention first, a page at a time, filters as links, readable on a phone.
  std::string to_html(const live_figures& live, reconcilers::sys_seconds now,
                      const status_query& query);

  const std::deque<decision_record>& recent() const noexcept { return recent_; }
  const fleet_view& view() const noexcept { return view_; }
  /// \brief What a source rejected: the first 1,000 items, and how many there were.
  struct rejected_list {
    std::vector<rejected_input> items;
    std::size_t total = 0;
  };
  const std::map<std::string, rejected_list>& rejections() const noexcept { return rejected_; }

 private:
  struct per_certificate {
    decision_record last;
    std::deque<decision_record> decisions;  // newest first, bounded: its news
    std::optional<reconcilers::sys_seconds> next_look;
    std::optional<reconcilers::order_hold> held_back;
    std::string conflict;
  };
  cert_facts facts_of(const reconcilers::cert_spec& spec,
                      const reconcilers::observation_cache& held) const;
  void render(fleet_row& row, reconcilers::sys_seconds now) const;

  std::map<std::string, per_certificate> certificates_;
  std::map<std::string, reconcilers::cert_spec> specs_;
  std::deque<decision_record> recent_;  // newest first, bounded
  std::map<std::string, rejected_list> rejected_;
  reconcilers::renewal_policy policy_;
  reconcilers::sys_seconds started_;
  std::size_t reconciles_ok_ = 0, reconciles_failed_ = 0;
  fleet_view view_;
  // Counters and histograms live in a registry of their own; gauges are written per scrape from
  // the rows, so a certificate that is no longer managed leaves no stale series behind.
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* acme_requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* acme_latency_ = nullptr;
};

}  // namespace certherd::controller
