// Rate-limit budgets, counted by certherd itself so that it never sends what a CA would refuse
// (Let's Encrypt: a refused duplicate locks a name set out for a week). Each limit is a
// generic cell rate (GCRA, the token bucket Let's Encrypt itself describes): `capacity` events per
// `period`, one more every period/capacity, at most `capacity` at once. One number per key (the
// theoretical arrival time) is all a bucket keeps, so the whole state persists as a small table
// and a restart resumes it. Pure: the caller passes the time and decides what is exempt.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::reconcilers {

using sys_seconds = std::chrono::sys_seconds;

struct rate_limit {
  std::string name;  ///< "new_orders", "certificates_per_domain", … (metrics, status)
  int capacity = 0;
  std::chrono::seconds period{0};
  /// One event's share of the period, rounded up (never more generous than the CA).
  std::chrono::seconds interval() const;
};

/// \brief Let's Encrypt's published limits (2026): new orders per account 300 / 3 h,
/// certificates per registered domain 50 / 7 d, the same exact set of names 5 / 7 d, failed
/// authorizations per identifier per account 5 / 1 h, new accounts per IP 10 / 3 h.
std::vector<rate_limit> letsencrypt_limits();

/// One event against one limit's bucket: limit "certificates_per_domain", key "example.com".
struct charge {
  std::string limit;
  std::string key;
};

/// Why something has to wait: the limit and key that bind last, and until when.
struct budget_wait {
  sys_seconds until;
  std::string limit;
  std::string key;
};

class budgets {
 public:
  explicit budgets(std::vector<rate_limit> limits);

  /// \brief nullopt when every charge can be spent at `now`; else the time all of them can, with
  /// the limit that waits longest. A charge naming a limit not configured costs nothing.
  std::optional<budget_wait> wait_for(const std::vector<charge>& charges, sys_seconds now) const;

  /// \brief Spends one event of each charge at `now` (after wait_for said yes; spending past the
  /// budget is counted all the same: what was sent was sent).
  void spend(const std::vector<charge>& charges, sys_seconds now);

  /// \brief Gives back one event of each charge (what was spent for an order that issued
  /// nothing, for a limit that counts only issued certificates).
  void refund(const std::vector<charge>& charges);

  /// \brief The CA said rateLimited with Retry-After: nothing more for this key until `until`,
  /// whatever the local count thought (the CA's count is the one that matters); at most
  /// kMaxBlock after `now`.
  void exhausted_until(const charge& c, sys_seconds until, sys_seconds now);

  /// \brief Events the key can still spend at `now` (capacity when untouched; 0 for a limit not
  /// configured, which wait_for never waits on).
  int remaining(const charge& c, sys_seconds now) const;

  const std::vector<rate_limit>& limits() const { return limits_; }
  /// \brief Every (limit, key) that is not full at `now`.
  std::vector<charge> spent(sys_seconds now) const;

  /// \brief The state as lines "limit<TAB>key<TAB>tat-seconds", only buckets not yet full at
  /// `now` (a full one is the same as none); and back. A line that does not read, or names a
  /// limit not configured, is left out (a lost line can only make a budget look fuller; the
  /// CA's rateLimited answer still stops certherd).
  /// A time read back is cut so that no key waits longer than kMaxBlock after `now`.
  /// Lines carry, as a fourth field, who set the time last (set_writer): reading back keeps,
  /// for every key, the later of the two times; with `skip_own`, a line this process set
  /// itself is left out, so a refund made since stands and its own write echoed back (the
  /// store's watch, a save merging with the stored state) is not taken for another's spend.
  std::string to_text(sys_seconds now) const;
  void load_text(std::string_view text, sys_seconds now, bool skip_own = false);
  /// \brief Who this process is in the lines it writes (unique per run).
  void set_writer(std::string id) { self_ = std::move(id); }

  /// The longest a CA's Retry-After can block a key (exhausted_until beyond is cut to it).
  static constexpr std::chrono::seconds kMaxBlock{7 * 24 * 3600};

 private:
  const rate_limit* find(std::string_view name) const;
  std::optional<sys_seconds> available_at(const rate_limit& l, const std::string& key,
                                          sys_seconds now) const;
  std::vector<rate_limit> limits_;
  std::map<std::pair<std::string, std::string>, sys_seconds> tat_;     ///< (limit, key) → TAT
  std::map<std::pair<std::string, std::string>, std::string> writer_;  ///< who set it last
  std::string self_;
};

}  // namespace certherd::reconcilers
