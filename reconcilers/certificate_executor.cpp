#include "reconcilers/certificate_executor.hpp"

#include "clients/log/log.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <random>

namespace certherd::reconcilers {

namespace asio = boost::asio;
using namespace std::chrono_literals;

local_copy to_local_copy(const stores::stored_certificate& record,
                         const pki::trust_anchors& anchors, chain_facts_memo* memo) {
  local_copy l;
  l.failures = record.failures;
  l.next_retry = record.next_retry;
  l.last_error = record.last_error;
  l.last_error_kind = failure_kind_from(record.last_error_kind);
  l.reissue = record.reissue;
  l.own = record.issued;
  l.directory = record.directory;
  l.key_type = record.key_type;
  l.profile = record.profile;
  if (record.chain_pem.empty()) return l;
  auto facts = memo ? memo->facts_of(record.name, record.chain_pem, anchors)
                    : read_chain_facts(record.chain_pem, anchors);
  if (!facts) return l;  // unreadable chain: as if none is held, so a new one is issued
  l.present = true;
  l.hosts = std::move(facts->hosts);
  l.issuer = facts->issuer;
  l.not_before = facts->not_before;
  l.not_after = facts->not_after;
  l.fingerprint = std::move(facts->fingerprint);
  l.fingerprint_sha1 = std::move(facts->fingerprint_sha1);
  l.chain_sha256 = std::move(facts->chain_sha256);
  if (record.ari.leaf == l.fingerprint) l.ari = record.ari;
  // The key type is the one recorded at issuance: parsing the key here would cost far more than
  // everything else a reconcile does (OpenSSL 3's decoders), and it is only needed to act.
  return l;
}

void add_chain_facts(const observation_cache& cache, chain_facts_memo::writer& w) {
  for (const auto& [name, e] : cache.entries) {
    const auto& l = e.local;
    if (!l.present) continue;
    w.add(name, {l.chain_sha256, l.hosts, l.issuer, l.not_before, l.not_after, l.fingerprint,
                 l.fingerprint_sha1});
  }
}

namespace {

// Everything certherd made under a name: what a target may replace without asking.
std::vector<std::string> own_fingerprints(const std::optional<local_copy>& local) {
  if (!local) return {};
  std::vector<std::string> out = local->own;
  if (local->present) {
    out.push_back(local->fingerprint);
    out.push_back(local->fingerprint_sha1);
  }
  return out;
}

target* find_target(executor_deps& deps, const std::string& name) {
  for (auto* t : deps.targets) {
    if (t->name() == name) return t;
  }
  return nullptr;
}

}  // namespace

std::chrono::seconds save_retry_delay(int failures) {
  if (failures <= 0) return 0s;
  if (failures >= 5) return 10min;
  return std::chrono::minutes(1 << (failures - 1));
}

namespace {

// When a target that failed is looked at again: what another party holds does not change by
// the minute; a refusal or no answer may.
std::chrono::seconds look_again_after(failure_kind kind) {
  return kind == failure_kind::conflict ? 10min : 1min;
}

// Saves `record`; when the store refuses, keeps it in `unsaved` (replacing an older one) to be
// saved again later, and returns the store's failure.
outcome<> save_or_keep(executor_deps& deps, observation_cache& unsaved_home,
                       const stores::stored_certificate& record, sys_seconds now) {
  auto saved = deps.store.save(record);
  if (saved) {
    unsaved_home.unsaved_records.erase(record.name);
    // What /status and /metrics show is the record as saved now (failures, last error), not the
    // one read before the attempt: a reconcile that ends after a failure never reads it again.
    if (deps.cache) {
      if (auto version = deps.store.version(record.name)) {
        deps.cache->entries[record.name] = {*version,
                                            to_local_copy(record, deps.anchors, deps.facts)};
      }
    }
    return {};
  }
  if (saved.error().kind == failure_kind::conflict) {
    // The store refused on purpose (STORE=etcd: this replica no longer leads, or the record
    // changed since it was read): what was not saved must never be saved later over the newer.
    unsaved_home.unsaved_records.erase(record.name);
    log::error("store_write_refused", {{"cert", record.name}, {"error", saved.error().message}});
    return saved;
  }
  auto& u = unsaved_home.unsaved_records[record.name];
  if (u.failures == 0) u.since = now;
  u.record = record;
  u.failures += 1;
  u.error = saved.error().message;
  u.next_try = now + save_retry_delay(u.failures);
  log::error("store_write_failed", {{"cert", record.name},
                                    {"failures", u.failures},
                                    {"next_try", u.next_try},
                                    {"error", u.error}});
  return saved;
}

}  // namespace

namespace {

// One reconcile of one certificate, as the design's loop reads: what the store holds, what every
// target serves, the plan, and the plan carried out, action by action. An issuance is followed by
// another round, which pushes what was issued; four rounds at most.
class reconcile_pass {
 public:
  reconcile_pass(cert_spec spec, executor_deps& deps, bool act)
      : spec_(std::move(spec)),
        deps_(deps),
        act_(act),
        memory_(deps.cache ? *deps.cache : scratch_) {}

  asio::awaitable<reconcile_report> run() {
    for (int round = 0; round < 4; ++round) {
      now_ = deps_.clock();
      held h;
      if (!read_held(h, round)) co_return report_;
      auto observed = co_await observe();
      plan_result p = plan_with_budgets(h, observed.copies);
      // Nothing else to do: the CA's renewal information, when it is due, may move the renewal.
      if (act_ && deps_.issuer && p.actions.empty() && h.local && renewal_info_due(*h.local)) {
        co_await ask_renewal_info(h);
        p = plan_with_budgets(h, observed.copies);
      }
      if (round == 0) {
        report_.decision = p;
        log::info("decision",
                  {{"cert", spec_.name}, {"actions", p.actions.size()}, {"reason", p.reason}});
      }
      report_.requeue_at = earliest(p.requeue_at, h.save_again_at);
      if (!act_ || p.actions.empty()) co_return report_;
      if (h.local && !h.have_record) read_for_acting(h);
      if (co_await carry_out(p, h, observed.unreadable) == after::done) co_return report_;
    }
    co_return report_;
  }

 private:
  // What the store holds for the certificate in this round.
  struct held {
    std::optional<local_copy> local;
    stores::stored_certificate record;
    bool have_record = false;                  ///< `record` is the whole record (chain, key)
    std::optional<sys_seconds> save_again_at;  ///< a refused record is saved again then
  };
  struct observations {
    std::vector<target_copy> copies;
    /// Each target that could not be read, and why: never written blind, for it may hold
    /// another CA's certificate.
    std::map<std::string, failure> unreadable;
  };
  enum class after { done, another_round };

  static std::optional<sys_seconds> earliest(std::optional<sys_seconds> a,
                                             std::optional<sys_seconds> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
  }

  void failed(failure_kind kind, std::string outcome) {
    report_.failed = true;
    report_.failed_kind = kind;
    report_.outcomes.push_back(std::move(outcome));
  }

  // The record: a record the store refused earlier is saved again when its time has come, and
  // until it is saved it is the record (an issued certificate is never thrown away nor ordered
  // again); otherwise the store's, read only when it changed since it was last read. False when
  // the store cannot read it: nothing may be decided then.
  bool read_held(held& h, int round) {
    if (auto u = memory_.unsaved_records.find(spec_.name); u != memory_.unsaved_records.end()) {
      if (now_ >= u->second.next_try) {
        auto kept = u->second.record;
        if (save_or_keep(deps_, memory_, kept, now_)) {
          log::info("store_write_recovered", {{"cert", spec_.name}});
          report_.outcomes.push_back("store: the record kept in memory is saved");
        }
      }
    }
    if (auto u = memory_.unsaved_records.find(spec_.name); u != memory_.unsaved_records.end()) {
      h.record = u->second.record;
      h.have_record = true;
      h.local = to_local_copy(h.record, deps_.anchors, deps_.facts);
      h.save_again_at = u->second.next_try;
      report_.failed = true;
      report_.failed_kind = failure_kind::store_io;
      if (round == 0) {
        report_.outcomes.push_back(fmt::format(
            "store: {} failed save{} ({}); the record is kept in memory and saved again at {}",
            u->second.failures, u->second.failures == 1 ? "" : "s", u->second.error,
            pki::to_rfc3339(u->second.next_try)));
      }
      // Shown by /status and /metrics as what is held; the version never matches a file.
      if (deps_.cache) deps_.cache->entries[spec_.name] = {stores::file_stamp{0, -2, 0}, *h.local};
    } else {
      auto version = deps_.store.version(spec_.name);
      const observation_cache::entry* hit = nullptr;
      if (deps_.cache && version) {
        auto it = deps_.cache->entries.find(spec_.name);
        if (it != deps_.cache->entries.end() && it->second.version == *version) hit = &it->second;
      }
      if (hit) {
        h.local = hit->local;
      } else {
        auto loaded = deps_.store.load(spec_.name);
        if (!loaded) {
          failed(loaded.error().kind, "store: " + loaded.error().message);
          report_.requeue_at = now_ + 10min;
          log::error("store_unreadable", {{"cert", spec_.name}, {"error", loaded.error().message}});
          return false;
        }
        if (*loaded) {
          h.record = std::move(**loaded);
          h.have_record = true;
          h.local = to_local_copy(h.record, deps_.anchors, deps_.facts);
          if (deps_.cache && version) deps_.cache->entries[spec_.name] = {*version, *h.local};
        }
      }
    }
    h.record.name = spec_.name;
    return true;
  }

  // Acting needs the chain and key, which a cached observation does not hold.
  void read_for_acting(held& h) {
    auto loaded = deps_.store.load(spec_.name);
    if (loaded && *loaded) {
      h.record = std::move(**loaded);
      h.have_record = true;
    }
  }

  asio::awaitable<observations> observe() {
    observations o;
    for (const auto& tname : spec_.targets) {
      auto* t = find_target(deps_, tname);
      if (!t) continue;
      auto seen = co_await t->async_observe(spec_.name);
      if (seen) {
        o.copies.push_back(*seen);
      } else {
        const auto& why = o.unreadable.emplace(tname, seen.error()).first->second;
        report_.outcomes.push_back(fmt::format("observe {}: {}", tname, why.message));
        log::warn("target_unreadable", {{"cert", spec_.name},
                                        {"target", tname},
                                        {"kind", to_string(why.kind)},
                                        {"error", why.message}});
      }
    }
    co_return o;
  }

  // The plan's actions in order. An issuance that succeeds ends the round (the next one pushes
  // what was issued); one that fails lets the other actions run (a valid local copy is still
  // worth serving) and ends the reconcile at the backoff. A failed push ends it.
  asio::awaitable<after> carry_out(const plan_result& p, held& h,
                                   const std::map<std::string, failure>& unreadable) {
    const bool all_conflicts = std::all_of(p.actions.begin(), p.actions.end(), [](const auto& a) {
      return a.kind == action_kind::conflict;
    });
    bool blocked = false;  // an action waits for a target that could not be read
    bool stop = false;     // a push failed
    std::optional<sys_seconds> retry_at;
    // Placeholders first: they are there to serve while the order takes its time.
    std::vector<planned_action> actions = p.actions;
    std::stable_partition(actions.begin(), actions.end(),
                          [](const auto& a) { return a.kind == action_kind::bootstrap; });
    for (const auto& a : actions) {
      if (stop) break;
      if (auto why = unreadable.find(a.target);
          (a.kind == action_kind::push || a.kind == action_kind::bootstrap) &&
          why != unreadable.end()) {
        failed(why->second.kind, fmt::format("not pushed to {}: it could not be read: {}", a.target,
                                             why->second.message));
        report_.requeue_at = now_ + look_again_after(why->second.kind);
        blocked = true;
        continue;
      }
      switch (a.kind) {
        case action_kind::issue: {
          if (!deps_.issuer) break;                     // planning only
          if (deps_.may_order && !deps_.may_order()) {  // STORE=etcd: not (or no longer) leading
            report_.outcomes.push_back("not ordered: this replica does not lead");
            break;
          }
          // Spent meanwhile by another order (the plan saw the budget before it was spent).
          if (auto wait = hold(h); wait && now_ < wait->until) {
            report_.outcomes.push_back("not ordered: " + wait->reason);
            log::info("order_held", {{"cert", spec_.name}, {"reason", wait->reason}});
            retry_at = wait->until;
            break;
          }
          if (co_await issue(h)) co_return after::another_round;
          retry_at = h.record.next_retry;
          if (auto u = memory_.unsaved_records.find(spec_.name);
              u != memory_.unsaved_records.end() && u->second.next_try < *retry_at) {
            retry_at = u->second.next_try;
          }
          break;
        }
        case action_kind::push:
          stop = !co_await push(a, h);
          break;
        case action_kind::bootstrap:
          co_await bootstrap(a, h);
          break;
        case action_kind::conflict:
          report_.outcomes.push_back(a.reason);
          log::warn("conflict", {{"cert", spec_.name}, {"target", a.target}, {"reason", a.reason}});
          break;
      }
    }
    if (retry_at) {
      report_.requeue_at = earliest(report_.requeue_at, retry_at);
      co_return after::done;
    }
    if (stop || all_conflicts || blocked) co_return after::done;
    co_return after::another_round;
  }

  static constexpr std::chrono::minutes kUnreachedWait{10};

  static bool nothing_issued(failure_kind k) {
    switch (k) {
      case failure_kind::validation:
      case failure_kind::caa:
      case failure_kind::rate_limited:
      case failure_kind::rejected_identifier:
      case failure_kind::unauthorized:
      case failure_kind::account_unknown:
      case failure_kind::challenge_setup:
      case failure_kind::bad_nonce:
      case failure_kind::configuration:
      case failure_kind::ca_refused:  // newOrder or finalize refused: no certificate
        return true;
      default:
        return false;
    }
  }

  // Whether an order would name the held certificate it replaces to a CA that takes it (what
  // Let's Encrypt exempts from its limits): held under the same directory, which has ARI, and
  // sharing a host with the spec.
  bool names_replaced(const std::optional<local_copy>& local) const {
    if (!local || !local->present || local->directory != spec_.directory) return false;
    if (local->ari.leaf != local->fingerprint || !local->ari.offered) return false;
    return std::any_of(spec_.hosts.begin(), spec_.hosts.end(), [&](const auto& x) {
      return std::find(local->hosts.begin(), local->hosts.end(), x) != local->hosts.end();
    });
  }

  std::vector<charge> charges(const held& h) const {
    return order_charges(spec_, h.local, names_replaced(h.local));
  }

  // The plan, with the budgets consulted only when it would issue (most reconciles find
  // nothing to order, and the charges cost a Public Suffix List lookup per host).
  plan_result plan_with_budgets(const held& h, const std::vector<target_copy>& copies) const {
    auto p = plan(spec_, h.local, copies, now_, deps_.policy);
    const bool orders = std::any_of(p.actions.begin(), p.actions.end(),
                                    [](const auto& a) { return a.kind == action_kind::issue; });
    if (!orders || !deps_.budgets) return p;
    auto wait = hold(h);
    return wait ? plan(spec_, h.local, copies, now_, deps_.policy, wait) : p;
  }

  // What the budgets say of an order now: nothing, or until when it waits and why.
  std::optional<order_hold> hold(const held& h) const {
    if (!deps_.budgets) return std::nullopt;
    auto w = deps_.budgets->wait_for(charges(h), now_);
    if (!w) return std::nullopt;
    return order_hold{w->until, describe(*w, deps_.budgets->limits())};
  }

  // Whether to ask the CA when to renew the held certificate: it is the one wanted, still valid,
  // and what is kept was about another certificate or is due again.
  bool renewal_info_due(const local_copy& l) const {
    if (!l.present || now_ >= l.not_after || !mismatch(spec_, l).empty()) return false;
    // A time further out than any answer could set (a damaged record) is no reason to stop.
    return l.ari.leaf != l.fingerprint || now_ >= l.ari.next_poll ||
           l.ari.next_poll > now_ + std::chrono::days(2);
  }

  // Asks the CA's renewalInfo (RFC 9773) about the held certificate and keeps what it said in
  // the record: the window, a time in it chosen once (a repeated answer does not move it), when
  // to ask again.
  asio::awaitable<void> ask_renewal_info(held& h) {
    // A CA that could not be read a moment ago is not asked again, nor the record read for it
    // (at start-up against a CA that is down, that would be every record).
    if (deps_.issuer->renewal_info_unreachable(h.local->directory)) {
      remember_unreached(h);
      co_return;
    }
    if (!h.have_record) read_for_acting(h);
    if (!h.have_record || h.record.chain_pem.empty()) co_return;
    stores::renewal_info a = h.record.ari;
    if (a.leaf != h.local->fingerprint) {
      a = {};
      a.leaf = h.local->fingerprint;
      a.cert_id = cert_id_of_chain(h.record.chain_pem, a.note);
    }
    if (a.cert_id.empty()) {  // nothing to ask about; said once a day in the plan
      a.next_poll = now_ + std::chrono::days(1);
    } else {
      auto got = co_await deps_.issuer->async_renewal_info(h.record.directory, a.cert_id);
      now_ = deps_.clock();
      // A resync of many certificates must not read every record and chain again to find the
      // CA still down.
      if (!got.reached) {
        remember_unreached(h);
        co_return;
      }
      take_answer(a, got);
    }
    keep_renewal_info(h, a);
  }

  // The CA could not be reached: nothing learnt, nothing written. Not asked again for 10
  // minutes, remembered beside what was derived from the record.
  void remember_unreached(held& h) {
    h.local->ari.leaf = h.local->fingerprint;
    h.local->ari.next_poll = now_ + kUnreachedWait;
    if (auto it = memory_.entries.find(spec_.name); it != memory_.entries.end()) {
      it->second.local.ari.leaf = h.local->fingerprint;
      it->second.local.ari.next_poll = h.local->ari.next_poll;
    }
  }

  void take_answer(stores::renewal_info& a, const renewal_info_answer& got) {
    using acme::ari_answer;
    if (!got.offered) {
      a.offered = false;
      a.window_start = a.window_end = a.renew_at = std::nullopt;
      a.failures = 0;
      a.note = "the CA offers no renewal information";
      a.next_poll = now_ + std::chrono::days(1);  // in case it comes to
      return;
    }
    a.offered = true;
    auto wait = acme::next_ari_poll(got.answer, got.retry_after, a.failures + 1);
    switch (got.answer) {
      case ari_answer::window: {
        std::optional<acme::renewal_window> chosen_in;
        if (a.window_start && a.window_end)
          chosen_in = acme::renewal_window{*a.window_start, *a.window_end, {}};
        auto previous = a.renew_at;
        a.renew_at =
            acme::renewal_time(*got.window, chosen_in, a.renew_at, random(), sys_seconds::max());
        a.window_start = got.window->start;
        a.window_end = got.window->end;
        a.failures = 0;
        a.note = got.window->explanation_url;
        if (a.renew_at != previous) {
          log::info("renewal_window", {{"cert", spec_.name},
                                       {"start", *a.window_start},
                                       {"end", *a.window_end},
                                       {"renew_at", *a.renew_at},
                                       {"explanation", a.note}});
        }
        break;
      }
      case ari_answer::long_term:
        a.failures = 0;
        a.note = "renewal information unusable: " + got.detail;
        log::warn("renewal_info_unusable", {{"cert", spec_.name}, {"error", got.detail}});
        break;
      case ari_answer::temporary:
        a.failures = std::min(a.failures + 1, 1000);
        a.note = "no renewal information: " + got.detail;
        // A CA that asks for time gets it, within RFC 9773's bounds.
        if (got.retry_after) {
          wait =
              std::max(wait, std::clamp(*got.retry_after, acme::kAriMinRetry, acme::kAriMaxRetry));
        }
        log::warn("renewal_info_failed",
                  {{"cert", spec_.name}, {"failures", a.failures}, {"error", got.detail}});
        break;
    }
    a.next_poll = now_ + wait;
  }

  // Saves what was learnt into the record as it is now: another process (certherd revoke,
  // renew --force) may have written it while the CA was asked, and only `ari` is ours to
  // change. The pass then plans with the record as saved.
  void keep_renewal_info(held& h, const stores::renewal_info& a) {
    if (!memory_.unsaved_records.contains(spec_.name)) {
      auto loaded = deps_.store.load(spec_.name);
      if (!loaded || !*loaded) return;
      h.record = std::move(**loaded);
      h.record.name = spec_.name;
    }
    auto now_local = to_local_copy(h.record, deps_.anchors, deps_.facts);
    if (!now_local.present || now_local.fingerprint != a.leaf) {  // replaced meanwhile
      h.local = std::move(now_local);
      return;
    }
    h.record.ari = a;
    if (auto saved = save_or_keep(deps_, memory_, h.record, now_); !saved) {
      // Kept in memory and saved again later (read_held); the pass says so now.
      failed(saved.error().kind,
             "store: " + saved.error().message + "; the renewal information is kept in memory");
    }
    h.local = to_local_copy(h.record, deps_.anchors, deps_.facts);
  }

  static std::string cert_id_of_chain(const std::string& chain_pem, std::string& why) {
    auto chain = pki::parse_pem_chain(chain_pem);
    if (!chain || chain->empty()) {
      why = "the held chain cannot be read";
      return {};
    }
    return acme::cert_id_of(chain->front(), why).value_or("");
  }

  std::uint64_t random() const {
    if (deps_.random) return deps_.random();
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }

  // The order context: the held certificate it replaces, when one is held under the same
  // directory and shares a host with the spec (RFC 9773 §5; Let's Encrypt exempts such orders).
  order_context context_for(const held& h) const {
    order_context c;
    if (!h.local || !h.local->present || h.record.directory != spec_.directory) return c;
    const auto& held_hosts = h.local->hosts;
    bool shared = std::any_of(spec_.hosts.begin(), spec_.hosts.end(), [&](const auto& x) {
      return std::find(held_hosts.begin(), held_hosts.end(), x) != held_hosts.end();
    });
    if (!shared) return c;
    std::string why;
    c.replaces = h.record.ari.leaf == h.local->fingerprint && !h.record.ari.cert_id.empty()
                     ? h.record.ari.cert_id
                     : cert_id_of_chain(h.record.chain_pem, why);
    return c;
  }

  // Orders a certificate and records the outcome: the new chain and key, or the failure with its
  // kind and the backoff it leads to. True when one was issued.
  asio::awaitable<bool> issue(held& h) {
    // Replacing a good certificate ahead of the local rule, because the CA's window says so.
    bool early = false;
    if (h.local && h.local->present && now_ < h.local->not_after &&
        mismatch(spec_, *h.local).empty()) {
      const auto& l = *h.local;
      early = renewal_of(l, deps_.policy.renewal).by_ari &&
              now_ < renewal_time(l.not_before, l.not_after, deps_.policy.renewal, l.fingerprint);
    }
    auto charged = charges(h);
    if (deps_.budgets) deps_.budgets->spend(charged, now_);
    auto outcome = co_await deps_.issuer->async_issue(spec_, context_for(h));
    now_ = deps_.clock();
    auto& record = h.record;
    if (!outcome) {
      const auto& why = outcome.error();
      if (deps_.budgets) {
        // Only when the CA surely issued nothing: a failure after finalize (no answer, a
        // download or chain that failed) may have left a certificate at the CA.
        if (nothing_issued(why.kind)) deps_.budgets->not_issued(charged, now_);
        // Every name of the order is charged: which one failed is not always told, and
        // counting more is the side that cannot trip the CA's limit.
        if (why.kind == failure_kind::validation || why.kind == failure_kind::caa) {
          deps_.budgets->failed_validation(spec_.hosts, now_);
        }
        // The CA's own rateLimited (a budget of certherd's that refused has spent nothing).
        if (why.kind == failure_kind::rate_limited && !why.problem_type.empty()) {
          // The CA's count is the one that matters.
          deps_.budgets->rate_limited(charged, why.message,
                                      now_ + why.retry_after.value_or(kRateLimitedWait), now_);
        }
      }
      record.failures += 1;
      record.next_retry = next_retry_time(record.failures, now_, why.kind, why.retry_after);
      record.last_error = why.message;
      record.last_error_kind = std::string(to_string(why.kind));
      failed(why.kind, "issue failed: " + why.message);
      log::error("issue_failed", {{"cert", spec_.name},
                                  {"kind", to_string(why.kind)},
                                  {"failures", record.failures},
                                  {"next_retry", record.next_retry},
                                  {"error", why.message}});
    } else {
      // Charged as exempt, but the CA did not take `replaces` (alreadyReplaced): an ordinary
      // order after all.
      if (deps_.budgets && names_replaced(h.local) && !outcome->replaced) {
        auto full = order_charges(spec_, h.local, false);
        std::erase_if(full, [&](const charge& c) {
          return std::any_of(charged.begin(), charged.end(),
                             [&](const charge& d) { return d.limit == c.limit && d.key == c.key; });
        });
        deps_.budgets->spend(full, now_);
      }
      const auto& leaf = outcome->chain.front();
      // What targets may still serve stays certherd's own after the record moves on.
      if (h.local && h.local->present) {
        stores::remember_issued(record, h.local->fingerprint, h.local->fingerprint_sha1);
      }
      stores::remember_issued(record, leaf.fingerprint_sha256(), leaf.fingerprint_sha1());
      record.hosts = spec_.hosts;
      record.directory = spec_.directory;
      record.key_type = spec_.key_type;
      record.profile = spec_.profile;
      record.chain_pem = pki::to_pem(outcome->chain);
      record.key_pem = outcome->key.to_pem();
      record.failures = 0;
      record.next_retry = {};
      record.last_error.clear();
      record.last_error_kind.clear();
      record.reissue.clear();
      record.not_after = leaf.not_after();
      record.fingerprint = leaf.fingerprint_sha256();
      record.ari = {};  // asked anew about the new certificate, at once
      record.ari.leaf = record.fingerprint;
      record.ari.cert_id = acme::cert_id_of(leaf, record.ari.note).value_or("");
      record.ari.early = early;
      report_.outcomes.push_back("issued, valid until " + pki::to_rfc3339(leaf.not_after()));
      log::info("issued", {{"cert", spec_.name},
                           {"hosts", fmt::format("{}", fmt::join(spec_.hosts, ","))},
                           {"not_after", leaf.not_after()},
                           {"fingerprint", record.fingerprint}});
    }
    if (auto saved = save_or_keep(deps_, memory_, record, now_); !saved) {
      // Kept in memory: the next round serves it from there, and no order follows.
      failed(saved.error().kind,
             "store: " + saved.error().message + "; the record is kept in memory");
    }
    co_return static_cast<bool>(outcome);
  }

  // Makes the target serve the held certificate. False when it refused.
  asio::awaitable<bool> push(const planned_action& a, const held& h) {
    auto* t = find_target(deps_, a.target);
    auto chain = pki::parse_pem_chain(h.record.chain_pem);
    auto key = pki::private_key::from_pem(h.record.key_pem);
    if (!t || !chain || !key) co_return true;
    auto pushed = co_await t->async_push(spec_.name, *chain, *key, own_fingerprints(h.local));
    if (pushed) {
      report_.outcomes.push_back("pushed to " + a.target);
      log::info("pushed", {{"cert", spec_.name},
                           {"target", a.target},
                           {"fingerprint", chain->front().fingerprint_sha256()}});
      co_return true;
    }
    const auto& why = pushed.error();
    failed(why.kind, fmt::format("push to {} failed: {}", a.target, why.message));
    log::error("push_failed", {{"cert", spec_.name},
                               {"target", a.target},
                               {"kind", to_string(why.kind)},
                               {"error", why.message}});
    report_.requeue_at = now_ + look_again_after(why.kind);
    co_return false;
  }

  // A self-signed placeholder until the real certificate arrives: one for every target of the
  // pass, so they all serve the same.
  asio::awaitable<void> bootstrap(const planned_action& a, const held& h) {
    auto* t = find_target(deps_, a.target);
    if (!t) co_return;
    if (!placeholder_) {
      auto key = pki::private_key::generate(pki::key_type::ec256);
      if (!key) co_return;
      auto cert = pki::make_self_signed(*key, spec_.hosts, now_, std::chrono::days(7));
      if (!cert) co_return;
      placeholder_.emplace(issued_certificate{{*cert}, std::move(*key)});
    }
    std::vector<pki::certificate> chain = placeholder_->chain;  // named: see acme/flow.hpp
    auto pushed = co_await t->async_push(spec_.name, std::move(chain), placeholder_->key,
                                         own_fingerprints(h.local));
    if (pushed) {
      report_.outcomes.push_back("placeholder pushed to " + a.target);
      log::info("placeholder_pushed", {{"cert", spec_.name}, {"target", a.target}});
    } else {
      report_.outcomes.push_back("placeholder push failed: " + pushed.error().message);
      log::warn("placeholder_push_failed", {{"cert", spec_.name},
                                            {"target", a.target},
                                            {"kind", to_string(pushed.error().kind)},
                                            {"error", pushed.error().message}});
    }
  }

  cert_spec spec_;
  executor_deps& deps_;
  bool act_;
  observation_cache scratch_;  // where refused records wait when the caller keeps no cache
  observation_cache& memory_;
  reconcile_report report_;
  sys_seconds now_{};
  std::optional<issued_certificate> placeholder_;
};

}  // namespace

asio::awaitable<reconcile_report> reconcile(cert_spec spec, executor_deps& deps, bool act) {
  reconcile_pass pass(std::move(spec), deps, act);
  co_return co_await pass.run();
}

}  // namespace certherd::reconcilers
