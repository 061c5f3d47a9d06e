#include "reconcilers/certificate_reconciler.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

namespace certherd::reconcilers {
namespace {

std::string when(sys_seconds t) {
  return pki::to_rfc3339(t);
}

std::string short_fp(const std::string& fp) {
  return fp.substr(0, 12);
}

void earliest(std::optional<sys_seconds>& slot, sys_seconds t) {
  if (!slot || t < *slot) slot = t;
}

}  // namespace

bool local_copy::made(const std::string& fp) const {
  if (fp.empty()) return false;
  if (present && (fp == fingerprint || fp == fingerprint_sha1)) return true;
  return std::find(own.begin(), own.end(), fp) != own.end();
}

std::string_view to_string(action_kind k) noexcept {
  switch (k) {
    case action_kind::issue:
      return "issue";
    case action_kind::push:
      return "push";
    case action_kind::bootstrap:
      return "bootstrap";
    case action_kind::conflict:
      return "conflict";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const planned_action& a) {
  os << to_string(a.kind);
  if (!a.target.empty()) os << ' ' << a.target;
  return os << " (" << a.reason << ')';
}

std::string mismatch(const cert_spec& spec, const local_copy& local) {
  if (!local.present) return "no certificate held";
  if (!local.reissue.empty()) return "replacement asked for: " + local.reissue;
  if (local.hosts != spec.hosts) {
    return fmt::format("hosts changed: held [{}], wanted [{}]", fmt::join(local.hosts, ","),
                       fmt::join(spec.hosts, ","));
  }
  if (local.directory != spec.directory) {
    return fmt::format("held certificate comes from {}, wanted {}", local.directory,
                       spec.directory);
  }
  if (spec.expected_class && local.issuer != *spec.expected_class) {
    return fmt::format("held certificate is {}, wanted {}", pki::to_string(local.issuer),
                       pki::to_string(*spec.expected_class));
  }
  if (local.key_type != spec.key_type) {
    return fmt::format("key type changed: held {}, wanted {}", pki::to_string(local.key_type),
                       pki::to_string(spec.key_type));
  }
  // A record from before profiles were recorded says nothing: no reason to replace it.
  if (local.profile && *local.profile != spec.profile) {
    auto shown = [](const std::string& p) { return p.empty() ? "the CA's default" : p; };
    return fmt::format("profile changed: held {}, wanted {}", shown(*local.profile),
                       shown(spec.profile));
  }
  return {};
}

renewal_due renewal_of(const local_copy& l, const renewal_policy& policy) {
  auto local_at = renewal_time(l.not_before, l.not_after, policy, l.fingerprint);
  const auto& a = l.ari;
  if (a.leaf == l.fingerprint && a.renew_at && a.window_start && a.window_end) {
    std::string window =
        fmt::format("the CA's window {}..{} (ARI{}{})", when(*a.window_start), when(*a.window_end),
                    a.note.empty() ? "" : ", explained at ", a.note);
    auto latest = local_at + (l.not_after - local_at) / 2;
    if (*a.renew_at > latest) {
      return {latest, window + ", brought forward to halfway through the local rule's window",
              true};
    }
    // A CA that kept answering "now" would have every new certificate replaced at once, and
    // orders would follow one another: a certificate that itself replaced one early is kept
    // for 1/50 of its lifetime first (43 h of 90 days; Let's Encrypt's revocations for
    // mis-issuance come 5 days ahead).
    auto earliest_at = l.not_before + (l.not_after - l.not_before) / 50;
    if (a.early && *a.renew_at < earliest_at) {
      return {earliest_at, window + ", held back until 1/50 of the lifetime has passed", true};
    }
    return {*a.renew_at, window, true};
  }
  std::string rule = policy.renew_before ? "RENEW_BEFORE_DAYS"
                     : l.not_after - l.not_before < std::chrono::days(10)
                         ? "1/2 of the lifetime left"
                         : "1/3 of the lifetime left";
  if (a.leaf == l.fingerprint && !a.note.empty()) rule += "; ARI: " + a.note;
  return {local_at, rule, false};
}

plan_result plan(const cert_spec& spec, const std::optional<local_copy>& local,
                 const std::vector<target_copy>& targets, sys_seconds now,
                 const reconcile_policy& policy, const std::optional<order_hold>& hold) {
  plan_result out;
  std::vector<std::string> notes;
  const bool held = local && local->present;
  const bool servable = held && now < local->not_after;

  // 1. Is the local copy good?
  std::string why = local ? mismatch(spec, *local) : "no certificate held";
  std::optional<renewal_due> renew;
  if (why.empty()) {
    renew = renewal_of(*local, policy.renewal);
    if (now >= local->not_after) {
      why = fmt::format("expired at {}", when(local->not_after));
    } else if (now >= renew->at) {
      why = fmt::format("renewal due since {} by {}", when(renew->at), renew->rule);
    }
  }
  if (why.empty()) {
    earliest(out.requeue_at, renew->at);
    // The CA's renewal information is asked for again then (the executor asks when it is due).
    if (local->ari.leaf == local->fingerprint && local->ari.next_poll > now) {
      earliest(out.requeue_at, local->ari.next_poll);
    }
    notes.push_back(fmt::format("valid until {}, renewal at {} by {}", when(local->not_after),
                                when(renew->at), renew->rule));
  } else if (local && local->failures > 0 && now < local->next_retry) {
    earliest(out.requeue_at, local->next_retry);
    notes.push_back(fmt::format("{}; waiting until {} after {} failure{} (last: {})", why,
                                when(local->next_retry), local->failures,
                                local->failures == 1 ? "" : "s", local->last_error));
  } else if (hold && now < hold->until) {
    // Looked at again within the hour: a refund (an order that issued nothing) or another
    // replica's state may free the budget long before the hold ends. A look costs the CA
    // nothing.
    earliest(out.requeue_at, std::min(hold->until, now + kHoldRecheck));
    notes.push_back(fmt::format("{}; {}", why, hold->reason));
    out.held_back = hold;
  } else {
    out.actions.push_back({action_kind::issue, {}, why});
    notes.push_back("issue: " + why);
  }

  // 2. Does every target serve the local copy?
  for (const auto& name : spec.targets) {
    auto it = std::find_if(targets.begin(), targets.end(),
                           [&](const target_copy& t) { return t.target == name; });
    const target_copy* t = it == targets.end() ? nullptr : &*it;
    const bool has = t && t->present;
    bool same = false;  // in sync: compared by the fingerprint the target reports
    if (has && held) {
      same = !t->fingerprint.empty()
                 ? t->fingerprint == local->fingerprint
                 : !t->fingerprint_sha1.empty() && t->fingerprint_sha1 == local->fingerprint_sha1;
    }
    if (same) continue;
    // A certificate certherd made is its own to replace, whoever signed it: a CA whose roots
    // certherd was not given (Pebble, a private CA) classifies as foreign all the same.
    const bool ours =
        has && local && (local->made(t->fingerprint) || local->made(t->fingerprint_sha1));
    if (has && !ours && (t->pinned || (t->foreign_owner && !policy.adopt_foreign))) {
      std::string r = fmt::format("{}: {}, left alone", name, t->owner_note);
      out.actions.push_back({action_kind::conflict, name, r});
      notes.push_back(r);
      continue;
    }
    if (has && !ours && !t->exclusive && t->issuer == pki::issuer_class::foreign &&
        now < t->not_after && !policy.adopt_foreign) {
      std::string r = fmt::format("{} holds a valid certificate of another CA ({}), left alone",
                                  name, short_fp(t->fingerprint));
      out.actions.push_back({action_kind::conflict, name, r});
      notes.push_back(r);
      continue;
    }
    if (servable) {
      std::string served;
      if (has) {
        served = short_fp(t->fingerprint.empty() ? t->fingerprint_sha1 : t->fingerprint);
        // Who issued what certherd's own output holds decides nothing, so it is not looked up.
        if (ours) {
          served += " (certherd's, earlier)";
        } else if (!t->exclusive) {
          served += fmt::format(" ({})", pki::to_string(t->issuer));
        }
      }
      std::string r =
          has ? fmt::format("{} serves {}, local is {}", name, served, short_fp(local->fingerprint))
              : fmt::format("{} has no certificate", name);
      out.actions.push_back({action_kind::push, name, r});
      notes.push_back("push: " + r);
    } else if (!has && policy.bootstrap_placeholders && t && t->takes_placeholders) {
      std::string r = fmt::format("{} has nothing to serve until a certificate is issued", name);
      out.actions.push_back({action_kind::bootstrap, name, r});
      notes.push_back("bootstrap: " + r);
    }
  }
  out.reason = notes.empty() ? "nothing to do" : fmt::format("{}", fmt::join(notes, "; "));
  return out;
}

}  // namespace certherd::reconcilers
