// The status of a fleet, kept as things change (design/0008-fleet-status.md): one row per
// managed certificate with the facts its card shows, the one state it is in (failing, expiring,
// waiting, conflict, pending, ready: the order of attention) and what a renderer made of it
// once (its JSON object, its card, its metric lines). Counts by state and an index in the order
// of attention are kept as rows change, so a request reads a page of rows instead of rebuilding
// ten thousand. Pure: no I/O, the clock is an argument.
#pragma once

#include "clients/outcome/outcome.hpp"
#include "reconcilers/certificate_reconciler.hpp"

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certherd::controller {

using reconcilers::sys_seconds;

/// \brief A certificate's state, in the order it asks for attention.
enum class cert_state { failing, expiring, waiting, conflict, pending, ready };
inline constexpr std::array kCertStates{cert_state::failing, cert_state::expiring,
                                        cert_state::waiting, cert_state::conflict,
                                        cert_state::pending, cert_state::ready};
/// \brief "failing", "expiring", …: JSON, query parameters, CSS classes.
std::string_view to_string(cert_state s) noexcept;
/// \brief The state `to_string` named; nullopt for anything else.
std::optional<cert_state> cert_state_from(std::string_view text) noexcept;

/// \brief The most a certificate may have left and be "expiring": 7 days, or half its lifetime
/// when that is shorter (a six-day certificate is not expiring all its life).
inline constexpr std::chrono::seconds kExpiringWithin{7 * 24 * 3600};

/// \brief What one certificate's row shows, gathered from its spec, the held copy and the
/// reconciler's last word.
struct cert_facts {
  std::string name;
  std::vector<std::string> hosts, sources, targets;
  bool reconciled = false;  ///< the reconciler has looked at it at least once
  bool held = false;        ///< a certificate is held
  std::string classification = "none";
  sys_seconds not_before{}, not_after{};
  std::optional<sys_seconds> renewal_at;
  std::string renewal_rule;
  std::optional<sys_seconds> next_look;
  std::string fingerprint;
  int failures = 0;  ///< consecutive failed issuances
  std::optional<sys_seconds> next_try;
  std::string last_error;
  std::optional<failure_kind> last_error_kind;
  bool last_failed = false;  ///< the last reconcile failed
  int store_failures = 0;    ///< failed saves of its record in a row
  std::string store_error;
  std::optional<sys_seconds> store_retry_at;
  /// An order held back (a rate-limit budget, the CA's rateLimited) until then, and why.
  std::optional<sys_seconds> waiting_until;
  std::string waiting_reason;
  /// Non-empty: a target holds a valid certificate of another CA under the name (why).
  std::string conflict;
};

/// \brief A state and the time it may next change by the clock alone (entering the expiring
/// window, the end of a wait); none when only a new fact can change it.
struct cert_verdict {
  cert_state state = cert_state::pending;
  std::optional<sys_seconds> recheck_at;
};

/// \brief The first state that holds, in the order of attention (design/0008):
/// failing (the last reconcile failed, failures in a row, an unsaved record; the CA's
/// rateLimited is waiting instead), expiring (held, within min(7 days, half the lifetime) of
/// notAfter, or past it), waiting (an order held back until a time still to come), conflict,
/// pending (not looked at yet, nothing held), ready.
cert_verdict classify(const cert_facts& f, sys_seconds now);

/// \brief A row: the facts, their verdict, and what the renderer made of them.
struct fleet_row {
  cert_facts facts;
  cert_verdict verdict;
  std::string json;                  ///< its object in /status
  std::string card;                  ///< its card on the page
  std::vector<std::string> metrics;  ///< its lines, one string per metric family
  std::string haystack;              ///< lower-cased name, hosts and sources, for ?q=
};

class fleet_view {
 public:
  /// Renders a row again: called after its facts or its verdict changed, with the time of the
  /// verdict.
  using render_fn = std::function<void(fleet_row&, sys_seconds now)>;
  explicit fleet_view(render_fn render = {});

  /// \brief Adds or replaces a certificate's row.
  void put(cert_facts facts, sys_seconds now);
  /// \brief Removes a row (no longer managed); nothing when there is none.
  void erase(std::string_view name);
  /// \brief Classifies again the rows whose verdict may have changed by `now`: only those
  /// (an index by time finds them).
  void advance(sys_seconds now);

  std::size_t size() const noexcept { return rows_.size(); }
  std::size_t count(cert_state s) const noexcept { return counts_[static_cast<std::size_t>(s)]; }
  const fleet_row* find(std::string_view name) const;

  struct query {
    std::optional<cert_state> state;  ///< only this state
    bool attention = false;           ///< only states before ready (with no `state`)
    std::string text;                 ///< a case-insensitive substring of name, host or source
    std::size_t page = 1;             ///< from 1
    std::size_t per_page = 100;       ///< 0: every match on one page
  };
  struct selection {
    std::vector<const fleet_row*> rows;  ///< the page, in the order of attention, then by name
    std::size_t matching = 0;            ///< rows matching, on every page
    std::size_t pages = 1;
    std::size_t page = 1;
  };
  /// \brief The rows matching `q`, a page of them (a page past the end: the last one).
  selection select(const query& q) const;

  /// \brief Every row, in the order of attention then by name.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [rank, name] : order_)
      f(rows_.find(name)->second);
  }
  /// \brief Entries of the index by time (tests: one per row that has a recheck time).
  std::size_t rechecks() const noexcept { return recheck_.size(); }
  /// \brief Every row, by name.
  const std::map<std::string, fleet_row, std::less<>>& by_name() const noexcept { return rows_; }

 private:
  void classify_row(fleet_row& row, sys_seconds now);
  void unindex(const fleet_row& row);
  void index(const fleet_row& row);

  render_fn render_;
  std::map<std::string, fleet_row, std::less<>> rows_;
  std::set<std::pair<int, std::string>> order_;      // (state, name)
  std::multimap<sys_seconds, std::string> recheck_;  // when a verdict may change by the clock
  std::array<std::size_t, kCertStates.size()> counts_{};
};

}  // namespace certherd::controller
