#include "controller/status_board.hpp"

#include "controller/logging.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sstream>

namespace certherd::controller {
namespace {

using reconcilers::sys_seconds;
constexpr std::size_t kRecent = 100;

std::string iso(sys_seconds t) {
  return pki::to_rfc3339(t);
}

double epoch(sys_seconds t) {
  return static_cast<double>(t.time_since_epoch().count());
}

// A label value for a failure reason: one line, bounded, so a long CA answer cannot bloat a
// scrape.
class json_writer {
 public:
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};

  void key(const char* k) { w.Key(k); }
  void str(std::string_view v) {
    std::string clean = valid_utf8(v);
    w.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
  }
  void kv(const char* k, std::string_view v) {
    key(k);
    str(v);
  }
  void kv(const char* k, std::int64_t v) {
    key(k);
    w.Int64(v);
  }
  void kv(const char* k, bool v) {
    key(k);
    w.Bool(v);
  }
  void time(const char* k, std::optional<sys_seconds> t) {
    key(k);
    if (t && t->time_since_epoch().count() > 0) {
      str(iso(*t));
    } else {
      w.Null();
    }
  }
  void strings(const char* k, const std::vector<std::string>& v) {
    key(k);
    w.StartArray();
    for (const auto& s : v)
      str(s);
    w.EndArray();
  }
  void decision(const decision_record& d) {
    w.StartObject();
    time("at", d.at);
    kv("name", d.name);
    kv("actions", d.actions);
    kv("reason", d.reason);
    strings("outcomes", d.outcomes);
    kv("failed", d.failed);
    w.EndObject();
  }
};

}  // namespace

status_board::status_board(reconcilers::renewal_policy policy)
    : policy_(policy),
      started_(
          std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now())),
      registry_(std::make_shared<prometheus::Registry>()) {
  acme_requests_ = &prometheus::BuildCounter()
                        .Name("certherd_acme_client_requests_total")
                        .Help("ACME requests by endpoint and HTTP status (0: no answer)")
                        .Register(*registry_);
  acme_latency_ = &prometheus::BuildHistogram()
                       .Name("certherd_acme_client_request_duration_seconds")
                       .Help("ACME request latency by endpoint")
                       .Register(*registry_);
}

status_board::~status_board() = default;

void status_board::reconciled(const reconcilers::cert_spec& spec,
                              const reconcilers::reconcile_report& report, sys_seconds now) {
  decision_record d;
  d.at = now;
  d.name = spec.name;
  for (const auto& a : report.decision.actions) {
    if (!d.actions.empty()) d.actions += ", ";
    d.actions += std::string(reconcilers::to_string(a.kind));
    if (!a.target.empty()) d.actions += " " + a.target;
  }
  d.reason = report.decision.reason;
  d.outcomes = report.outcomes;
  d.failed = report.failed;
  d.failed_kind = report.failed_kind;
  (report.failed ? reconciles_failed_ : reconciles_ok_) += 1;
  auto& c = certificates_[spec.name];
  c.last = d;
  c.next_look = report.requeue_at;
  // Only decisions that did or found something are news; a quiet resync is not.
  if (!d.actions.empty() || d.failed) {
    recent_.push_front(std::move(d));
    if (recent_.size() > kRecent) recent_.pop_back();
  }
}

void status_board::acme_request(std::string_view endpoint, unsigned status, double seconds) {
  std::string ep(endpoint);
  acme_requests_->Add({{"endpoint", ep}, {"status", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1,    2.5,   5,    10};
  acme_latency_->Add({{"endpoint", ep}}, buckets).Observe(seconds);
}

bool status_board::all_seen(const std::map<std::string, reconcilers::cert_spec>& desired) const {
  for (const auto& [name, spec] : desired) {
    if (!certificates_.count(name)) return false;
  }
  return true;
}

std::string status_board::to_json(const std::map<std::string, reconcilers::cert_spec>& desired,
                                  const reconcilers::observation_cache& held,
                                  const live_figures& live, sys_seconds now) const {
  json_writer j;
  auto& w = j.w;
  w.StartObject();
  j.time("now", now);
  j.time("started", started_);
  j.kv("ready", live.ready);
  j.kv("certificates_managed", static_cast<std::int64_t>(desired.size()));
  j.kv("queue_depth", static_cast<std::int64_t>(live.queue_depth));
  j.kv("in_flight", static_cast<std::int64_t>(live.in_flight));
  j.kv("reconciles_ok", static_cast<std::int64_t>(reconciles_ok_));
  j.kv("reconciles_failed", static_cast<std::int64_t>(reconciles_failed_));
  j.key("rancher");
  if (live.rancher_configured) {
    w.StartObject();
    j.kv("state", live.rancher_state);
    j.kv("events", static_cast<std::int64_t>(live.rancher_events));
    j.kv("resyncs", static_cast<std::int64_t>(live.rancher_resyncs));
    w.EndObject();
  } else {
    w.Null();
  }
  // STORE=etcd: whether this replica leads (only the leader orders and writes to Rancher).
  j.key("store");
  w.StartObject();
  j.kv("kind", std::string(live.etcd ? "etcd" : "file"));
  if (live.etcd) {
    j.kv("leader", live.etcd->leader);
    j.kv("leader_identity", live.etcd->holder);
    j.kv("elections", static_cast<std::int64_t>(live.etcd->elections));
    j.kv("leader_losses", static_cast<std::int64_t>(live.etcd->leader_losses));
    j.kv("watching", live.etcd->watching);
    j.kv("reachable", live.etcd->unreachable_since == 0);
    j.key("unreachable_since");
    if (live.etcd->unreachable_since == 0) {
      w.Null();
    } else {
      w.Int64(live.etcd->unreachable_since);
    }
    j.kv("revision", live.etcd->revision);
    j.kv("requests", static_cast<std::int64_t>(live.etcd->requests));
    j.kv("unreadable_records", static_cast<std::int64_t>(live.etcd->unreadable));
    j.kv("last_error", live.etcd->last_error);
  }
  w.EndObject();
  // The rate-limit budgets per limit (null with RATE_LIMITS=off); a waiting certificate's own
  // reason is in its last decision.
  j.key("budgets");
  if (live.budgets.empty()) {
    w.Null();
  } else {
    w.StartArray();
    for (const auto& f : live.budgets) {
      w.StartObject();
      j.kv("limit", f.limit);
      j.kv("capacity", static_cast<std::int64_t>(f.capacity));
      j.kv("period_seconds", static_cast<std::int64_t>(f.period.count()));
      j.kv("least_remaining", static_cast<std::int64_t>(f.least_remaining));
      j.kv("keys_exhausted", static_cast<std::int64_t>(f.keys_exhausted));
      w.EndObject();
    }
    w.EndArray();
  }
  j.key("certificates");
  w.StartArray();
  for (const auto& [name, spec] : desired) {
    w.StartObject();
    j.kv("name", name);
    j.strings("hosts", spec.hosts);
    j.strings("sources", spec.sources);
    j.strings("targets", spec.targets);
    auto h = held.entries.find(name);
    const reconcilers::local_copy* local =
        h != held.entries.end() && h->second.local.present ? &h->second.local : nullptr;
    auto seen = certificates_.find(name);
    const per_certificate* c = seen == certificates_.end() ? nullptr : &seen->second;
    auto u = held.unsaved_records.find(name);
    const reconcilers::observation_cache::unsaved* unsaved =
        u == held.unsaved_records.end() ? nullptr : &u->second;
    bool failing =
        (c && c->last.failed) || unsaved || (h != held.entries.end() && h->second.local.failures);
    bool valid = local && now < local->not_after;
    std::string state = !c ? "pending" : failing ? "failing" : valid ? "ready" : "pending";
    j.kv("state", state);
    j.kv("classification", local ? pki::to_string(local->issuer) : std::string_view("none"));
    j.time("not_before", local ? std::optional(local->not_before) : std::nullopt);
    j.time("not_after", local ? std::optional(local->not_after) : std::nullopt);
    std::optional<reconcilers::renewal_due> renewal;
    if (local) renewal = reconcilers::renewal_of(*local, policy_);
    j.time("renewal_at", renewal ? std::optional(renewal->at) : std::nullopt);
    // Which rule set it: the CA's ARI window, or the local rule (and why ARI did not).
    j.kv("renewal_rule", renewal ? renewal->rule : std::string());
    j.time("next_look", c ? c->next_look : std::nullopt);
    j.kv("fingerprint_sha256", local ? std::string_view(local->fingerprint) : "");
    int failures = h != held.entries.end() ? h->second.local.failures : 0;
    j.kv("failures", static_cast<std::int64_t>(failures));
    j.kv("last_error", h != held.entries.end() ? h->second.local.last_error : std::string());
    std::optional<failure_kind> last_kind;
    if (h != held.entries.end() && h->second.local.failures > 0)
      last_kind = h->second.local.last_error_kind;
    if (!last_kind && c && c->last.failed) last_kind = c->last.failed_kind;
    j.kv("last_error_kind", last_kind ? to_string(*last_kind) : std::string_view());
    // A record the store refused (a full disk): held in memory, saved again at store_retry_at.
    j.kv("store_failures", static_cast<std::int64_t>(unsaved ? unsaved->failures : 0));
    j.kv("store_error", unsaved ? std::string_view(unsaved->error) : std::string_view());
    j.time("store_retry_at", unsaved ? std::optional(unsaved->next_try) : std::nullopt);
    j.key("last_decision");
    if (c) {
      j.decision(c->last);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  j.key("recent_decisions");
  w.StartArray();
  for (const auto& d : recent_)
    j.decision(d);
  w.EndArray();
  w.EndObject();
  return {j.buf.GetString(), j.buf.GetSize()};
}

std::vector<live_figures::budget_figure> budget_figures(const reconcilers::order_budgets& b,
                                                        reconcilers::sys_seconds now) {
  std::vector<live_figures::budget_figure> out;
  for (const auto& l : b.limits())
    out.push_back({l.name, l.capacity, l.period, l.capacity, 0});
  for (const auto& u : b.in_use(now)) {
    for (auto& f : out) {
      if (f.limit != u.limit) continue;
      f.least_remaining = std::min(f.least_remaining, u.remaining);
      if (u.remaining == 0) ++f.keys_exhausted;
    }
  }
  return out;
}

std::string status_board::to_prometheus(
    const std::map<std::string, reconcilers::cert_spec>& desired,
    const reconcilers::observation_cache& held, const live_figures& live) const {
  prometheus::Registry now;
  auto& expiry = prometheus::BuildGauge()
                     .Name("certherd_certificate_expiration_timestamp_seconds")
                     .Help("The date after which the held certificate expires (Unix seconds)")
                     .Register(now);
  auto& renewal = prometheus::BuildGauge()
                      .Name("certherd_certificate_renewal_timestamp_seconds")
                      .Help("When certherd renews the held certificate (Unix seconds)")
                      .Register(now);
  auto& ready = prometheus::BuildGauge()
                    .Name("certherd_certificate_ready_status")
                    .Help(
                        "1 for the condition that holds: True when a valid certificate is "
                        "held and the last reconcile succeeded")
                    .Register(now);
  auto& failures = prometheus::BuildGauge()
                       .Name("certherd_certificate_failures")
                       .Help("Consecutive failed issuances of the certificate")
                       .Register(now);
  auto& failure = prometheus::BuildGauge()
                      .Name("certherd_certificate_last_failure_info")
                      .Help("1 for a failing certificate, with the last failure's reason")
                      .Register(now);
  auto& store_failures =
      prometheus::BuildGauge()
          .Name("certherd_certificate_store_failures")
          .Help(
              "Failed saves in a row of the certificate's record (a full or read-only disk); "
              "the record is kept in memory and saved again")
          .Register(now);
  auto now_s = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  for (const auto& [name, spec] : desired) {
    auto u = held.unsaved_records.find(name);
    int unsaved = u == held.unsaved_records.end() ? 0 : u->second.failures;
    store_failures.Add({{"name", name}}).Set(unsaved);
    auto h = held.entries.find(name);
    const reconcilers::local_copy* local =
        h != held.entries.end() && h->second.local.present ? &h->second.local : nullptr;
    auto seen = certificates_.find(name);
    bool last_failed = seen != certificates_.end() && seen->second.last.failed;
    if (local) {
      expiry.Add({{"name", name}}).Set(epoch(local->not_after));
      renewal.Add({{"name", name}}).Set(epoch(reconcilers::renewal_of(*local, policy_).at));
    }
    bool ok = local && now_s < local->not_after && !last_failed && unsaved == 0 &&
              (h == held.entries.end() || h->second.local.failures == 0);
    ready.Add({{"name", name}, {"condition", "True"}}).Set(ok ? 1 : 0);
    ready.Add({{"name", name}, {"condition", "False"}}).Set(ok ? 0 : 1);
    int n = h != held.entries.end() ? h->second.local.failures : 0;
    failures.Add({{"name", name}}).Set(n);
    // The reason label is the failure's kind (design/0004-errors.md): a bounded set of values;
    // the words, URLs and all, are on /status and in the logs.
    std::optional<failure_kind> kind;
    if (h != held.entries.end() && h->second.local.failures > 0)
      kind = h->second.local.last_error_kind.value_or(failure_kind::ca_refused);
    if (!kind && last_failed) {
      kind = seen->second.last.failed_kind.value_or(failure_kind::internal);
    }
    if (unsaved > 0) kind = failure_kind::store_io;
    if (kind) failure.Add({{"name", name}, {"reason", std::string(to_string(*kind))}}).Set(1);
  }
  if (!live.budgets.empty()) {
    auto& least = prometheus::BuildGauge()
                      .Name("certherd_budget_remaining")
                      .Help(
                          "Rate-limit budget: the events the most spent key (account, "
                          "registered domain, name set, name) can still spend")
                      .Register(now);
    auto& capacity = prometheus::BuildGauge()
                         .Name("certherd_budget_capacity")
                         .Help("Rate-limit budget: the events a key may spend per period")
                         .Register(now);
    auto& exhausted = prometheus::BuildGauge()
                          .Name("certherd_budget_exhausted_keys")
                          .Help("Rate-limit budget: keys with nothing left, whose orders wait")
                          .Register(now);
    for (const auto& f : live.budgets) {
      least.Add({{"limit", f.limit}}).Set(f.least_remaining);
      capacity.Add({{"limit", f.limit}}).Set(f.capacity);
      exhausted.Add({{"limit", f.limit}}).Set(static_cast<double>(f.keys_exhausted));
    }
  }
  prometheus::BuildGauge()
      .Name("certherd_certificates_managed")
      .Help("Certificates certherd is asked to keep valid")
      .Register(now)
      .Add({})
      .Set(static_cast<double>(desired.size()));
  prometheus::BuildGauge()
      .Name("certherd_work_queue_depth")
      .Help("Certificates waiting for a worker")
      .Register(now)
      .Add({})
      .Set(static_cast<double>(live.queue_depth));
  auto& reconciles = prometheus::BuildCounter()
                         .Name("certherd_reconciles_total")
                         .Help("Reconciles by result")
                         .Register(now);
  reconciles.Add({{"result", "ok"}}).Increment(static_cast<double>(reconciles_ok_));
  reconciles.Add({{"result", "failed"}}).Increment(static_cast<double>(reconciles_failed_));
  prometheus::BuildGauge()
      .Name("certherd_ready")
      .Help("1 once the first full pass (and the first Rancher list) is done")
      .Register(now)
      .Add({})
      .Set(live.ready ? 1 : 0);
  prometheus::BuildCounter()
      .Name("certherd_status_renders_total")
      .Help("Renderings of /status and the status page (cached; at most one a second each)")
      .Register(now)
      .Add({})
      .Increment(static_cast<double>(live.status_renders));
  if (live.rancher_configured) {
    prometheus::BuildGauge()
        .Name("certherd_rancher_websocket_connected")
        .Help("1 while the Rancher event websocket is subscribed")
        .Register(now)
        .Add({})
        .Set(live.rancher_state == "connected" ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_rancher_events_total")
        .Help("Frames received on the Rancher event websocket")
        .Register(now)
        .Add({})
        .Increment(static_cast<double>(live.rancher_events));
    prometheus::BuildCounter()
        .Name("certherd_rancher_resyncs_total")
        .Help("Full lists of the Rancher environment")
        .Register(now)
        .Add({})
        .Increment(static_cast<double>(live.rancher_resyncs));
  }
  if (live.etcd) {
    prometheus::BuildGauge()
        .Name("certherd_leader")
        .Help("1 while this replica leads (STORE=etcd): only the leader orders certificates")
        .Register(now)
        .Add({})
        .Set(live.etcd->leader ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_leader_elections_total")
        .Help("Times this replica became the leader")
        .Register(now)
        .Add({})
        .Increment(static_cast<double>(live.etcd->elections));
    prometheus::BuildCounter()
        .Name("certherd_leader_losses_total")
        .Help("Times this replica stopped leading without resigning (lease lost, key taken)")
        .Register(now)
        .Add({})
        .Increment(static_cast<double>(live.etcd->leader_losses));
    prometheus::BuildGauge()
        .Name("certherd_store_watching")
        .Help("1 while the etcd watch that keeps this replica's copy of the store is open")
        .Register(now)
        .Add({})
        .Set(live.etcd->watching ? 1 : 0);
    prometheus::BuildGauge()
        .Name("certherd_store_reachable")
        .Help("1 while etcd answers this replica; 0 from the first call no member answered")
        .Register(now)
        .Add({})
        .Set(live.etcd->unreachable_since == 0 ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_store_requests_total")
        .Help("Requests sent to etcd (a watch stream counts once per opening)")
        .Register(now)
        .Add({})
        .Increment(static_cast<double>(live.etcd->requests));
    prometheus::BuildGauge()
        .Name("certherd_store_revision")
        .Help("The newest etcd revision this replica's copy of the store has applied")
        .Register(now)
        .Add({})
        .Set(static_cast<double>(live.etcd->revision));
    prometheus::BuildGauge()
        .Name("certherd_store_unreadable_records")
        .Help("Records in etcd this replica cannot read (not sealed with its key, not a record)")
        .Register(now)
        .Add({})
        .Set(static_cast<double>(live.etcd->unreadable));
  }
  auto families = now.Collect();
  auto more = registry_->Collect();
  families.insert(families.end(), more.begin(), more.end());
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace certherd::controller
