#include "controller/status_board.hpp"

#include "controller/logging.hpp"
#include "controller/status_page.hpp"
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

#include <array>
#include <charconv>

namespace certherd::controller {
namespace {

using reconcilers::sys_seconds;
constexpr std::size_t kRecent = 100;

std::string iso(sys_seconds t) {
  return pki::to_rfc3339(t);
}

// JSON with every string made valid UTF-8 (names and reasons may hold anything).
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

constexpr std::size_t kDecisionsPerCertificate = 20;
constexpr std::size_t kRejectedKept = 1000;
constexpr std::size_t kItemBytes = 256;
constexpr std::size_t kReasonBytes = 1024;
constexpr std::size_t kOutcomesKept = 8;

// The per-certificate metric families, in the order a row keeps its lines.
struct family_text {
  const char* name;
  const char* help;
};
constexpr std::array kCertificateFamilies{
    family_text{"certherd_certificate_expiration_timestamp_seconds",
                "The date after which the held certificate expires (Unix seconds)"},
    family_text{"certherd_certificate_renewal_timestamp_seconds",
                "When certherd renews the held certificate (Unix seconds)"},
    family_text{"certherd_certificate_ready_status",
                "1 for the condition that holds: True when a valid certificate is held and the "
                "last reconcile succeeded"},
    family_text{"certherd_certificate_failures", "Consecutive failed issuances of the certificate"},
    family_text{"certherd_certificate_last_failure_info",
                "1 for a failing certificate, with the last failure's reason"},
    family_text{"certherd_certificate_store_failures",
                "Failed saves in a row of the certificate's record (a full or read-only disk); "
                "the record is kept in memory and saved again"},
};

// A label value in the text exposition format: backslash, double quote and line feed escaped.
std::string label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::int64_t unix_seconds(sys_seconds t) {
  return t.time_since_epoch().count();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: '+' is a space, %XX a byte; nullopt for a broken escape.
std::optional<std::string> form_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

}  // namespace

std::variant<status_query, std::string> parse_status_query(std::string_view query) {
  status_query q;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (key != "state" && key != "q" && key != "page") continue;
    if (!value) return fmt::format("{}: a broken %-escape", key);
    if (key == "state") {
      if (value->empty()) continue;  // the form's "any state"
      q.state = cert_state_from(*value);
      if (!q.state) {
        return fmt::format(
            "state: '{}' is not one of failing, expiring, waiting, conflict, pending, ready",
            valid_utf8(*value, 40));
      }
    } else if (key == "q") {
      if (value->size() > 200) return "q: longer than 200 bytes";
      q.text = valid_utf8(*value);
    } else {
      std::size_t page = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), page);
      if (ec != std::errc{} || end != value->data() + value->size() || page == 0 ||
          page > 1'000'000) {
        return fmt::format("page: '{}' is not a page number (1, 2, …)", valid_utf8(*value, 40));
      }
      q.page = page;
    }
  }
  return q;
}

status_board::status_board(reconcilers::renewal_policy policy)
    : policy_(policy),
      started_(
          std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now())),
      view_([this](fleet_row& row, sys_seconds now) { render(row, now); }),
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

cert_facts status_board::facts_of(const reconcilers::cert_spec& spec,
                                  const reconcilers::observation_cache& held) const {
  cert_facts f;
  f.name = spec.name;
  f.hosts = spec.hosts;
  f.sources = spec.sources;
  f.targets = spec.targets;
  auto h = held.entries.find(spec.name);
  const reconcilers::local_copy* local =
      h != held.entries.end() && h->second.local.present ? &h->second.local : nullptr;
  auto seen = certificates_.find(spec.name);
  const per_certificate* c = seen == certificates_.end() ? nullptr : &seen->second;
  f.reconciled = c != nullptr;
  f.held = local != nullptr;
  if (local) {
    f.classification = std::string(pki::to_string(local->issuer));
    f.not_before = local->not_before;
    f.not_after = local->not_after;
    auto renewal = reconcilers::renewal_of(*local, policy_);
    f.renewal_at = renewal.at;
    // Which rule set it: the CA's ARI window, or the local rule (and why ARI did not).
    f.renewal_rule = renewal.rule;
    f.fingerprint = local->fingerprint;
  }
  if (c) f.next_look = c->next_look;
  if (h != held.entries.end()) {
    f.failures = h->second.local.failures;
    f.last_error = valid_utf8(h->second.local.last_error, 2 * kReasonBytes);
    if (f.failures > 0) {
      f.last_error_kind = h->second.local.last_error_kind;
      f.next_try = h->second.local.next_retry;
    }
  }
  f.last_failed = c && c->last.failed;
  if (!f.last_error_kind && f.last_failed) f.last_error_kind = c->last.failed_kind;
  // A record the store refused (a full disk): held in memory, saved again at store_retry_at.
  auto u = held.unsaved_records.find(spec.name);
  if (u != held.unsaved_records.end()) {
    f.store_failures = u->second.failures;
    f.store_error = valid_utf8(u->second.error, kReasonBytes);
    f.store_retry_at = u->second.next_try;
  }
  if (c && c->held_back) {
    f.waiting_until = c->held_back->until;
    f.waiting_reason = c->held_back->reason;
  }
  if (c) f.conflict = c->conflict;
  return f;
}

void status_board::render(fleet_row& row, sys_seconds now) const {
  const cert_facts& f = row.facts;
  json_writer j;
  auto& w = j.w;
  w.StartObject();
  j.kv("name", f.name);
  j.strings("hosts", f.hosts);
  j.strings("sources", f.sources);
  j.strings("targets", f.targets);
  j.kv("state", to_string(row.verdict.state));
  j.kv("classification", f.classification);
  j.time("not_before", f.held ? std::optional(f.not_before) : std::nullopt);
  j.time("not_after", f.held ? std::optional(f.not_after) : std::nullopt);
  j.time("renewal_at", f.renewal_at);
  j.kv("renewal_rule", f.renewal_rule);
  j.time("next_look", f.next_look);
  j.kv("fingerprint_sha256", f.fingerprint);
  j.kv("failures", static_cast<std::int64_t>(f.failures));
  j.kv("last_error", f.last_error);
  j.kv("last_error_kind", f.last_error_kind ? to_string(*f.last_error_kind) : std::string_view());
  j.time("next_try", f.next_try);
  j.kv("store_failures", static_cast<std::int64_t>(f.store_failures));
  j.kv("store_error", f.store_error);
  j.time("store_retry_at", f.store_retry_at);
  j.time("waiting_until", f.waiting_until);
  j.kv("waiting_reason", f.waiting_reason);
  j.kv("conflict", f.conflict);
  j.key("last_decision");
  auto seen = certificates_.find(f.name);
  if (seen != certificates_.end()) {
    j.decision(seen->second.last);
  } else {
    w.Null();
  }
  w.EndObject();
  row.json.assign(j.buf.GetString(), j.buf.GetSize());
  row.card = status_card(row, now);

  // Its metric lines, one string per family (kCertificateFamilies), labels in name order as
  // prometheus-cpp writes them.
  std::string name = label_value(f.name);
  row.metrics.assign(kCertificateFamilies.size(), std::string());
  if (f.held) {
    row.metrics[0] = fmt::format("{}{{name=\"{}\"}} {}\n", kCertificateFamilies[0].name, name,
                                 unix_seconds(f.not_after));
    row.metrics[1] = fmt::format("{}{{name=\"{}\"}} {}\n", kCertificateFamilies[1].name, name,
                                 unix_seconds(f.renewal_at.value_or(f.not_after)));
  }
  bool ok =
      f.held && now < f.not_after && !f.last_failed && f.store_failures == 0 && f.failures == 0;
  row.metrics[2] = fmt::format(
      "{0}{{condition=\"True\",name=\"{1}\"}} {2}\n{0}{{condition=\"False\",name=\"{1}\"}} {3}\n",
      kCertificateFamilies[2].name, name, ok ? 1 : 0, ok ? 0 : 1);
  row.metrics[3] =
      fmt::format("{}{{name=\"{}\"}} {}\n", kCertificateFamilies[3].name, name, f.failures);
  // The reason label is the failure's kind (design/0004-errors.md): a bounded set of values;
  // the words, URLs and all, are on /status and in the logs.
  std::optional<failure_kind> kind;
  if (f.failures > 0) kind = f.last_error_kind.value_or(failure_kind::ca_refused);
  if (!kind && f.last_failed) kind = f.last_error_kind.value_or(failure_kind::internal);
  if (f.store_failures > 0) kind = failure_kind::store_io;
  if (kind) {
    row.metrics[4] = fmt::format("{}{{name=\"{}\",reason=\"{}\"}} 1\n",
                                 kCertificateFamilies[4].name, name, to_string(*kind));
  }
  row.metrics[5] =
      fmt::format("{}{{name=\"{}\"}} {}\n", kCertificateFamilies[5].name, name, f.store_failures);
}

void status_board::desired(const std::map<std::string, reconcilers::cert_spec>& desired,
                           const reconcilers::observation_cache& held, sys_seconds now) {
  for (auto it = specs_.begin(); it != specs_.end();) {
    if (desired.count(it->first)) {
      ++it;
      continue;
    }
    view_.erase(it->first);
    certificates_.erase(it->first);
    it = specs_.erase(it);
  }
  for (const auto& [name, spec] : desired) {
    auto known = specs_.find(name);
    if (known != specs_.end() && known->second.hosts == spec.hosts &&
        known->second.sources == spec.sources && known->second.targets == spec.targets)
      continue;
    specs_[name] = spec;
    view_.put(facts_of(spec, held), now);
  }
}

void status_board::reconciled(const reconcilers::cert_spec& spec,
                              const reconcilers::reconcile_report& report,
                              const reconcilers::observation_cache& held, sys_seconds now) {
  decision_record d;
  d.at = now;
  d.name = spec.name;
  std::string conflict;
  for (const auto& a : report.decision.actions) {
    if (!d.actions.empty()) d.actions += ", ";
    d.actions += std::string(reconcilers::to_string(a.kind));
    if (!a.target.empty()) d.actions += " " + a.target;
    if (a.kind == reconcilers::action_kind::conflict)
      conflict += (conflict.empty() ? "" : "; ") + a.reason;
  }
  // Bounded, whatever the CA or a target said: 20 of these are kept per certificate.
  d.actions = valid_utf8(d.actions, kItemBytes * 2);
  d.reason = valid_utf8(report.decision.reason, kReasonBytes);
  for (std::size_t i = 0; i < report.outcomes.size() && i < kOutcomesKept; ++i)
    d.outcomes.push_back(valid_utf8(report.outcomes[i], kReasonBytes));
  d.failed = report.failed;
  d.failed_kind = report.failed_kind;
  (report.failed ? reconciles_failed_ : reconciles_ok_) += 1;
  // Only decisions that did or found something are news; a quiet resync is not.
  const bool news = !d.actions.empty() || d.failed;
  // A certificate no longer desired (removed while it was reconciled) keeps nothing: were it
  // desired again, it would start from nothing, not from this stale decision. Its row takes the
  // spec the board holds (the sources may have changed while it was reconciled).
  auto known = specs_.find(spec.name);
  if (known == specs_.end()) {
    if (news) recent_.push_front(std::move(d));
    if (recent_.size() > kRecent) recent_.pop_back();
    return;
  }
  auto& c = certificates_[spec.name];
  c.last = d;
  c.next_look = report.requeue_at;
  c.held_back = report.decision.held_back;
  c.conflict = valid_utf8(conflict, kReasonBytes);
  if (news) {
    c.decisions.push_front(d);
    if (c.decisions.size() > kDecisionsPerCertificate) c.decisions.pop_back();
    recent_.push_front(std::move(d));
    if (recent_.size() > kRecent) recent_.pop_back();
  }
  view_.put(facts_of(known->second, held), now);
}

void status_board::rejected(const std::string& source, std::vector<rejected_input> items) {
  if (items.empty()) {
    rejected_.erase(source);
    return;
  }
  // Bounded, whatever a tenant writes: how many are kept per source, and each item's length.
  auto& list = rejected_[source];
  list.total = items.size();
  if (items.size() > kRejectedKept) items.resize(kRejectedKept);
  for (auto& r : items) {
    r.item = valid_utf8(r.item, kItemBytes);
    r.source = valid_utf8(r.source, kItemBytes);
    r.reason = valid_utf8(r.reason, 2 * kItemBytes);
  }
  list.items = std::move(items);
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

std::string status_board::to_json(const live_figures& live, sys_seconds now,
                                  const status_query* filter) {
  view_.advance(now);
  json_writer j;
  auto& w = j.w;
  w.StartObject();
  j.time("now", now);
  j.time("started", started_);
  j.kv("ready", live.ready);
  j.kv("certificates_managed", static_cast<std::int64_t>(view_.size()));
  j.key("counts");
  w.StartObject();
  for (auto s : kCertStates)
    j.kv(std::string(to_string(s)).c_str(), static_cast<std::int64_t>(view_.count(s)));
  w.EndObject();
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
  j.key("rejected");
  w.StartArray();
  for (const auto& [source, list] : rejected_) {
    for (const auto& r : list.items) {
      w.StartObject();
      j.kv("source", r.source);
      j.kv("item", r.item);
      j.kv("reason", r.reason);
      w.EndObject();
    }
  }
  w.EndArray();
  std::size_t rejected_total = 0;
  for (const auto& [source, list] : rejected_)
    rejected_total += list.total;
  j.kv("rejected_total", static_cast<std::int64_t>(rejected_total));
  j.key("certificates");
  w.StartArray();
  if (filter) {
    fleet_view::query q;
    q.state = filter->state;
    q.text = filter->text;
    q.page = filter->page;
    auto sel = view_.select(q);
    for (const fleet_row* row : sel.rows)
      w.RawValue(row->json.data(), row->json.size(), rapidjson::kObjectType);
    w.EndArray();
    j.kv("matching", static_cast<std::int64_t>(sel.matching));
    j.kv("page", static_cast<std::int64_t>(sel.page));
    j.kv("pages", static_cast<std::int64_t>(sel.pages));
  } else {
    view_.for_each([&w](const fleet_row& row) {
      w.RawValue(row.json.data(), row.json.size(), rapidjson::kObjectType);
    });
    w.EndArray();
  }
  j.key("recent_decisions");
  w.StartArray();
  for (const auto& d : recent_)
    j.decision(d);
  w.EndArray();
  w.EndObject();
  return {j.buf.GetString(), j.buf.GetSize()};
}

std::optional<std::string> status_board::certificate_json(std::string_view name, sys_seconds now) {
  view_.advance(now);
  const fleet_row* row = view_.find(name);
  if (!row) return std::nullopt;
  json_writer j;
  j.w.StartObject();
  j.key("certificate");
  j.w.RawValue(row->json.data(), row->json.size(), rapidjson::kObjectType);
  j.key("decisions");
  j.w.StartArray();
  auto c = certificates_.find(row->facts.name);
  if (c != certificates_.end()) {
    for (const auto& d : c->second.decisions)
      j.decision(d);
  }
  j.w.EndArray();
  j.w.EndObject();
  return std::string(j.buf.GetString(), j.buf.GetSize());
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

std::string status_board::to_prometheus(const live_figures& live, sys_seconds now) {
  view_.advance(now);
  // The certificates' series: each row's lines, rendered when it changed, family by family (the
  // text format keeps a family's lines together).
  std::string out;
  for (std::size_t i = 0; i < kCertificateFamilies.size(); ++i) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n", kCertificateFamilies[i].name,
                       kCertificateFamilies[i].help);
    for (const auto& [name, row] : view_.by_name())
      out += row.metrics[i];
  }
  prometheus::Registry scrape;
  auto& states = prometheus::BuildGauge()
                     .Name("certherd_certificates")
                     .Help(
                         "Certificates by state: failing, expiring, waiting, conflict, pending, "
                         "ready (what the status page counts)")
                     .Register(scrape);
  for (auto s : kCertStates)
    states.Add({{"state", std::string(to_string(s))}}).Set(static_cast<double>(view_.count(s)));
  if (!live.budgets.empty()) {
    auto& least = prometheus::BuildGauge()
                      .Name("certherd_budget_remaining")
                      .Help(
                          "Rate-limit budget: the events the most spent key (account, "
                          "registered domain, name set, name) can still spend")
                      .Register(scrape);
    auto& capacity = prometheus::BuildGauge()
                         .Name("certherd_budget_capacity")
                         .Help("Rate-limit budget: the events a key may spend per period")
                         .Register(scrape);
    auto& exhausted = prometheus::BuildGauge()
                          .Name("certherd_budget_exhausted_keys")
                          .Help("Rate-limit budget: keys with nothing left, whose orders wait")
                          .Register(scrape);
    for (const auto& f : live.budgets) {
      least.Add({{"limit", f.limit}}).Set(f.least_remaining);
      capacity.Add({{"limit", f.limit}}).Set(f.capacity);
      exhausted.Add({{"limit", f.limit}}).Set(static_cast<double>(f.keys_exhausted));
    }
  }
  prometheus::BuildGauge()
      .Name("certherd_certificates_managed")
      .Help("Certificates certherd is asked to keep valid")
      .Register(scrape)
      .Add({})
      .Set(static_cast<double>(view_.size()));
  prometheus::BuildGauge()
      .Name("certherd_work_queue_depth")
      .Help("Certificates waiting for a worker")
      .Register(scrape)
      .Add({})
      .Set(static_cast<double>(live.queue_depth));
  auto& reconciles = prometheus::BuildCounter()
                         .Name("certherd_reconciles_total")
                         .Help("Reconciles by result")
                         .Register(scrape);
  reconciles.Add({{"result", "ok"}}).Increment(static_cast<double>(reconciles_ok_));
  reconciles.Add({{"result", "failed"}}).Increment(static_cast<double>(reconciles_failed_));
  prometheus::BuildGauge()
      .Name("certherd_ready")
      .Help("1 once the first full pass (and the first Rancher list) is done")
      .Register(scrape)
      .Add({})
      .Set(live.ready ? 1 : 0);
  prometheus::BuildCounter()
      .Name("certherd_status_renders_total")
      .Help("Renderings of /status (the whole of it at most once a second) and the status page")
      .Register(scrape)
      .Add({})
      .Increment(static_cast<double>(live.status_renders));
  if (live.rancher_configured) {
    prometheus::BuildGauge()
        .Name("certherd_rancher_websocket_connected")
        .Help("1 while the Rancher event websocket is subscribed")
        .Register(scrape)
        .Add({})
        .Set(live.rancher_state == "connected" ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_rancher_events_total")
        .Help("Frames received on the Rancher event websocket")
        .Register(scrape)
        .Add({})
        .Increment(static_cast<double>(live.rancher_events));
    prometheus::BuildCounter()
        .Name("certherd_rancher_resyncs_total")
        .Help("Full lists of the Rancher environment")
        .Register(scrape)
        .Add({})
        .Increment(static_cast<double>(live.rancher_resyncs));
  }
  if (live.etcd) {
    prometheus::BuildGauge()
        .Name("certherd_leader")
        .Help("1 while this replica leads (STORE=etcd): only the leader orders certificates")
        .Register(scrape)
        .Add({})
        .Set(live.etcd->leader ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_leader_elections_total")
        .Help("Times this replica became the leader")
        .Register(scrape)
        .Add({})
        .Increment(static_cast<double>(live.etcd->elections));
    prometheus::BuildCounter()
        .Name("certherd_leader_losses_total")
        .Help("Times this replica stopped leading without resigning (lease lost, key taken)")
        .Register(scrape)
        .Add({})
        .Increment(static_cast<double>(live.etcd->leader_losses));
    prometheus::BuildGauge()
        .Name("certherd_store_watching")
        .Help("1 while the etcd watch that keeps this replica's copy of the store is open")
        .Register(scrape)
        .Add({})
        .Set(live.etcd->watching ? 1 : 0);
    prometheus::BuildGauge()
        .Name("certherd_store_reachable")
        .Help("1 while etcd answers this replica; 0 from the first call no member answered")
        .Register(scrape)
        .Add({})
        .Set(live.etcd->unreachable_since == 0 ? 1 : 0);
    prometheus::BuildCounter()
        .Name("certherd_store_requests_total")
        .Help("Requests sent to etcd (a watch stream counts once per opening)")
        .Register(scrape)
        .Add({})
        .Increment(static_cast<double>(live.etcd->requests));
    prometheus::BuildGauge()
        .Name("certherd_store_revision")
        .Help("The newest etcd revision this replica's copy of the store has applied")
        .Register(scrape)
        .Add({})
        .Set(static_cast<double>(live.etcd->revision));
    prometheus::BuildGauge()
        .Name("certherd_store_unreadable_records")
        .Help("Records in etcd this replica cannot read (not sealed with its key, not a record)")
        .Register(scrape)
        .Add({})
        .Set(static_cast<double>(live.etcd->unreadable));
  }
  auto families = scrape.Collect();
  auto more = registry_->Collect();
  families.insert(families.end(), more.begin(), more.end());
  out += prometheus::TextSerializer().Serialize(families);
  return out;
}

}  // namespace certherd::controller
