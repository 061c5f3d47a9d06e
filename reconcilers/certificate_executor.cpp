#include "reconcilers/certificate_executor.hpp"

#include "clients/log/log.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace certherd::reconcilers {

namespace asio = boost::asio;
using namespace std::chrono_literals;

local_copy to_local_copy(const stores::stored_certificate& record,
                         const pki::trust_anchors& anchors) {
  local_copy l;
  l.failures = record.failures;
  l.next_retry = record.next_retry;
  l.last_error = record.last_error;
  l.last_error_kind = failure_kind_from(record.last_error_kind);
  l.reissue = record.reissue;
  l.own = record.issued;
  l.directory = record.directory;
  l.key_type = record.key_type;
  if (record.chain_pem.empty()) return l;
  auto chain = pki::parse_pem_chain(record.chain_pem);
  if (!chain) return l;  // unreadable chain: as if none is held, so a new one is issued
  const auto& leaf = chain->front();
  l.present = true;
  l.hosts = leaf.subject_alt_names();
  std::sort(l.hosts.begin(), l.hosts.end());
  l.issuer = pki::classify(*chain, anchors);
  l.not_before = leaf.not_before();
  l.not_after = leaf.not_after();
  l.fingerprint = leaf.fingerprint_sha256();
  l.fingerprint_sha1 = leaf.fingerprint_sha1();
  // The key type is the one recorded at issuance: parsing the key here would cost far more than
  // everything else a reconcile does (OpenSSL 3's decoders), and it is only needed to act.
  return l;
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

// Saves `record`; when the store refuses, keeps it in `unsaved` (replacing an older one) to be
// saved again later. Returns the store's error, or "" when it was saved.
std::string save_or_keep(executor_deps& deps, observation_cache& unsaved_home,
                         const stores::stored_certificate& record, sys_seconds now) {
  auto saved = deps.store.save(record);
  if (saved) {
    unsaved_home.unsaved_records.erase(record.name);
    // What /status and /metrics show is the record as saved now (failures, last error), not the
    // one read before the attempt: a reconcile that ends after a failure never reads it again.
    if (deps.cache) {
      if (auto version = deps.store.version(record.name)) {
        deps.cache->entries[record.name] = {*version, to_local_copy(record, deps.anchors)};
      }
    }
    return {};
  }
  auto& u = unsaved_home.unsaved_records[record.name];
  if (u.failures == 0) u.since = now;
  u.record = record;
  u.failures += 1;
  u.error = saved.error();
  u.next_try = now + save_retry_delay(u.failures);
  log::error("store_write_failed", {{"cert", record.name},
                                    {"failures", u.failures},
                                    {"next_try", u.next_try},
                                    {"error", u.error}});
  return u.error;
}

}  // namespace

asio::awaitable<reconcile_report> reconcile(cert_spec spec, executor_deps& deps, bool act) {
  reconcile_report report;
  observation_cache scratch;  // where refused records wait when the caller keeps no cache
  observation_cache& memory = deps.cache ? *deps.cache : scratch;
  for (int round = 0; round < 4; ++round) {
    auto now = deps.clock();
    std::optional<local_copy> local;
    stores::stored_certificate record;
    bool have_record = false;
    std::optional<sys_seconds> save_again_at;

    // A record the store refused earlier is saved again when its time has come; until it is
    // saved, it is the record (an issued certificate is never thrown away nor ordered again).
    if (auto u = memory.unsaved_records.find(spec.name); u != memory.unsaved_records.end()) {
      if (now >= u->second.next_try) {
        auto kept = u->second.record;
        if (save_or_keep(deps, memory, kept, now).empty()) {
          log::info("store_write_recovered", {{"cert", spec.name}});
          report.outcomes.push_back("store: the record kept in memory is saved");
        }
      }
    }
    if (auto u = memory.unsaved_records.find(spec.name); u != memory.unsaved_records.end()) {
      record = u->second.record;
      have_record = true;
      local = to_local_copy(record, deps.anchors);
      save_again_at = u->second.next_try;
      report.failed = true;
      report.failed_kind = failure_kind::store_io;
      if (round == 0) {
        report.outcomes.push_back(fmt::format(
            "store: {} failed save{} ({}); the record is kept in memory and saved again at "
            "{}",
            u->second.failures, u->second.failures == 1 ? "" : "s", u->second.error,
            pki::to_rfc3339(u->second.next_try)));
      }
      // Shown by /status and /metrics as what is held; the version never matches a file.
      if (deps.cache) deps.cache->entries[spec.name] = {stores::file_stamp{0, -2, 0}, *local};
    } else {
      // The record is read only when it changed since it was last read, or to act on it.
      auto version = deps.store.version(spec.name);
      const observation_cache::entry* hit = nullptr;
      if (deps.cache && version) {
        auto it = deps.cache->entries.find(spec.name);
        if (it != deps.cache->entries.end() && it->second.version == *version) hit = &it->second;
      }
      if (hit) {
        local = hit->local;
      } else {
        auto loaded = deps.store.load(spec.name);
        if (!loaded) {
          report.failed = true;
          report.failed_kind = failure_kind::store_io;
          report.outcomes.push_back("store: " + loaded.error());
          report.requeue_at = now + 10min;
          log::error("store_unreadable", {{"cert", spec.name}, {"error", loaded.error()}});
          co_return report;
        }
        if (*loaded) {
          record = std::move(**loaded);
          have_record = true;
          local = to_local_copy(record, deps.anchors);
          if (deps.cache && version) deps.cache->entries[spec.name] = {*version, *local};
        }
      }
    }
    record.name = spec.name;

    std::vector<target_copy> observed;
    std::set<std::string> unreadable;  // never written blind: it may hold another CA's certificate
    for (const auto& tname : spec.targets) {
      auto* t = find_target(deps, tname);
      if (!t) continue;
      auto seen = co_await t->async_observe(spec.name);
      if (seen) {
        observed.push_back(*seen);
      } else {
        unreadable.insert(tname);
        report.outcomes.push_back(fmt::format("observe {}: {}", tname, seen.error()));
        log::warn("target_unreadable",
                  {{"cert", spec.name}, {"target", tname}, {"error", seen.error()}});
      }
    }

    plan_result p = plan(spec, local, observed, now, deps.policy);
    if (round == 0) {
      report.decision = p;
      log::info("decision",
                {{"cert", spec.name}, {"actions", p.actions.size()}, {"reason", p.reason}});
    }
    report.requeue_at = p.requeue_at;
    if (save_again_at && (!report.requeue_at || *save_again_at < *report.requeue_at)) {
      report.requeue_at = save_again_at;
    }
    if (!act || p.actions.empty()) co_return report;
    if (local && !have_record) {  // acting needs the chain and key: read them now
      auto loaded = deps.store.load(spec.name);
      if (loaded && *loaded) {
        record = std::move(**loaded);
        have_record = true;
      }
    }
    bool all_conflicts = std::all_of(p.actions.begin(), p.actions.end(),
                                     [](const auto& a) { return a.kind == action_kind::conflict; });

    bool stop = false;
    bool replan = false;
    bool blocked = false;  // an action waits for a target that could not be read
    std::optional<sys_seconds> retry_at;
    for (const auto& a : p.actions) {
      if ((a.kind == action_kind::push || a.kind == action_kind::bootstrap) &&
          unreadable.count(a.target)) {
        report.failed = true;
        report.failed_kind = failure_kind::target_refused;
        report.outcomes.push_back(fmt::format("not pushed to {}: it could not be read", a.target));
        report.requeue_at = now + 1min;
        blocked = true;
        continue;
      }
      switch (a.kind) {
        case action_kind::issue: {
          if (!deps.issuer) break;
          auto outcome = co_await deps.issuer->async_issue(spec);
          now = deps.clock();
          if (!outcome) {
            const auto& why = outcome.error();
            record.failures += 1;
            record.next_retry = next_retry_time(record.failures, now, why.kind, why.retry_after);
            record.last_error = why.message;
            record.last_error_kind = std::string(to_string(why.kind));
            report.failed = true;
            report.failed_kind = why.kind;
            report.outcomes.push_back("issue failed: " + why.message);
            log::error("issue_failed", {{"cert", spec.name},
                                        {"kind", to_string(why.kind)},
                                        {"failures", record.failures},
                                        {"next_retry", record.next_retry},
                                        {"error", why.message}});
          } else {
            const auto& leaf = outcome->chain.front();
            // What targets may still serve stays certherd's own after the record moves on.
            if (local && local->present) {
              stores::remember_issued(record, local->fingerprint, local->fingerprint_sha1);
            }
            stores::remember_issued(record, leaf.fingerprint_sha256(), leaf.fingerprint_sha1());
            record.hosts = spec.hosts;
            record.directory = spec.directory;
            record.key_type = spec.key_type;
            record.chain_pem = pki::to_pem(outcome->chain);
            record.key_pem = outcome->key.to_pem();
            record.failures = 0;
            record.next_retry = {};
            record.last_error.clear();
            record.last_error_kind.clear();
            record.reissue.clear();
            record.not_after = leaf.not_after();
            record.fingerprint = leaf.fingerprint_sha256();
            report.outcomes.push_back("issued, valid until " + pki::to_rfc3339(leaf.not_after()));
            log::info("issued", {{"cert", spec.name},
                                 {"hosts", fmt::format("{}", fmt::join(spec.hosts, ","))},
                                 {"not_after", leaf.not_after()},
                                 {"fingerprint", record.fingerprint}});
          }
          if (auto problem = save_or_keep(deps, memory, record, now); !problem.empty()) {
            // Kept in memory: the next round serves it from there, and no order follows.
            report.failed = true;
            report.failed_kind = failure_kind::store_io;
            report.outcomes.push_back("store: " + problem + "; the record is kept in memory");
          }
          if (!outcome) {
            retry_at = record.next_retry;  // a plan that issues asks for no requeue
            if (auto u = memory.unsaved_records.find(spec.name);
                u != memory.unsaved_records.end() && u->second.next_try < *retry_at) {
              retry_at = u->second.next_try;
            }
            break;  // the other actions still run: a valid local copy is still worth serving
          }
          replan = true;  // observe again: pushes and placeholders follow from the new record
          break;
        }
        case action_kind::push: {
          auto* t = find_target(deps, a.target);
          auto chain = pki::parse_pem_chain(record.chain_pem);
          auto key = pki::private_key::from_pem(record.key_pem);
          if (!t || !chain || !key) break;
          auto pushed = co_await t->async_push(spec.name, *chain, *key, own_fingerprints(local));
          if (pushed) {
            report.outcomes.push_back("pushed to " + a.target);
            log::info("pushed", {{"cert", spec.name},
                                 {"target", a.target},
                                 {"fingerprint", chain->front().fingerprint_sha256()}});
          } else {
            report.failed = true;
            report.failed_kind = failure_kind::target_refused;
            report.outcomes.push_back(
                fmt::format("push to {} failed: {}", a.target, pushed.error()));
            log::error("push_failed",
                       {{"cert", spec.name}, {"target", a.target}, {"error", pushed.error()}});
            report.requeue_at = now + 1min;
            stop = true;
          }
          break;
        }
        case action_kind::bootstrap: {
          auto* t = find_target(deps, a.target);
          auto key = pki::private_key::generate(pki::key_type::ec256);
          if (!t || !key) break;
          auto cert = pki::make_self_signed(*key, spec.hosts, now, std::chrono::days(7));
          if (!cert) break;
          std::vector<pki::certificate> placeholder{*cert};  // named: see clients/acme/flow.hpp
          auto pushed = co_await t->async_push(spec.name, std::move(placeholder), *key,
                                               own_fingerprints(local));
          report.outcomes.push_back(pushed ? "placeholder pushed to " + a.target
                                           : "placeholder push failed: " + pushed.error());
          break;
        }
        case action_kind::conflict:
          report.outcomes.push_back(a.reason);
          log::warn("conflict", {{"cert", spec.name}, {"target", a.target}, {"reason", a.reason}});
          break;
      }
      if (stop || replan) break;
    }
    if (retry_at) {
      if (!report.requeue_at || *retry_at < *report.requeue_at) report.requeue_at = retry_at;
      co_return report;
    }
    if (stop || all_conflicts || (blocked && !replan)) co_return report;
  }
  co_return report;
}

}  // namespace certherd::reconcilers
