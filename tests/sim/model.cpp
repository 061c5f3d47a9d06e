// Resource store of the Rancher 1.x simulator (design/rancher-api.md §A3–§A5). Field order in
// rendered resources follows Cattle's: id, type, links, actions, baseType, then the fields sorted
// by name (a TreeMap, so "CN" comes first).
#include "tests/sim/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace certherd::sim {

void throw_exception_from_error(const api_error& e, const boost::source_location&) {
  throw std::runtime_error(fmt::format("{} {}", e.status, e.code));
}

std::string random_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = rng(), b = rng();
  a = (a & ~0xf000ULL) | 0x4000ULL;        // version 4
  b = (b & ~(3ULL << 62)) | (2ULL << 62);  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff,
                     b >> 48, b & 0xffffffffffffULL);
}

namespace {

constexpr std::string_view stack_id = "1st1";
constexpr std::string_view certificate_filters[] = {
    "accountId", "cert", "certChain",  "created", "description", "id",  "key",
    "kind",      "name", "removeTime", "removed", "state",       "uuid"};
constexpr std::string_view service_filters[] = {
    "accountId",    "createIndex", "created", "description", "externalId", "healthState",
    "id",           "kind",        "name",    "removeTime",  "removed",    "selectorContainer",
    "selectorLink", "skip",        "stackId", "state",       "system",     "uuid",
    "vip"};
constexpr std::string_view stack_filters[] = {
    "accountId", "created", "description", "externalId", "group", "healthState", "id",
    "kind",      "name",    "removeTime",  "removed",    "state", "system",      "uuid"};
constexpr std::string_view project_filters[] = {"created",
                                                "defaultNetworkId",
                                                "description",
                                                "externalId",
                                                "externalIdType",
                                                "healthState",
                                                "id",
                                                "kind",
                                                "name",
                                                "projectTemplateId",
                                                "removeTime",
                                                "removed",
                                                "state",
                                                "uuid",
                                                "version"};

// A string field of a request body: absent, null, a string, or something else.
struct body_field {
  bool present = false;
  bool wrong_type = false;
  std::optional<std::string> value;
};

body_field read_field(const rapidjson::Value& body, const char* name) {
  body_field f;
  if (!body.IsObject()) return f;
  auto it = body.FindMember(name);
  if (it == body.MemberEnd()) return f;
  f.present = true;
  if (it->value.IsString()) {
    f.value.emplace(it->value.GetString(), it->value.GetStringLength());
  } else if (!it->value.IsNull()) {
    f.wrong_type = true;
  }
  return f;
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  v.Accept(w);
  return out.GetString();
}

std::optional<std::uint64_t> number_of(const std::string& id, std::string_view prefix) {
  if (!id.starts_with(prefix) || id.size() == prefix.size()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : std::string_view(id).substr(prefix.size())) {
    if (c < '0' || c > '9' || n > (1ULL << 50)) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Cattle's schema limits on certificate fields (maxLength) and the required ones on create.
std::optional<api_error> check_certificate_fields(const rapidjson::Value& body, bool create) {
  struct limit {
    const char* name;
    std::size_t max;
    bool required;
  };
  static constexpr limit limits[] = {{"name", 255, true},
                                     {"cert", 65535, true},
                                     {"key", 65535, true},
                                     {"certChain", 65535, false},
                                     {"description", 1024, false}};
  for (const auto& l : limits) {
    auto f = read_field(body, l.name);
    if (f.wrong_type) return validation_error("InvalidFormat", l.name);
    bool empty = !f.value || f.value->empty();
    if (l.required && create && empty) return validation_error("MissingRequired", l.name);
    if (l.required && !create && f.present && empty) return validation_error("NotNullable", l.name);
    if (f.value && f.value->size() > l.max) return validation_error("MaxLengthExceeded", l.name);
  }
  return std::nullopt;
}

api_result<lb_config> parse_lb_config(const rapidjson::Value& v) {
  lb_config out;
  if (v.IsNull()) return out;
  if (!v.IsObject()) return validation_error("InvalidFormat", "lbConfig");
  if (auto it = v.FindMember("certificateIds"); it != v.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray()) return validation_error("InvalidFormat", "certificateIds");
    for (const auto& id : it->value.GetArray()) {
      if (!id.IsString()) return validation_error("InvalidFormat", "certificateIds");
      out.certificate_ids.emplace_back(id.GetString(), id.GetStringLength());
    }
  }
  auto def = read_field(v, "defaultCertificateId");
  if (def.wrong_type) return validation_error("InvalidFormat", "defaultCertificateId");
  out.default_certificate_id = def.value;
  if (auto it = v.FindMember("portRules"); it != v.MemberEnd() && !it->value.IsNull()) {
    if (!it->value.IsArray()) return validation_error("InvalidFormat", "portRules");
    out.port_rules = to_json(it->value);
  }
  return out;
}

// Labels come as {"labels":{...}} from the control API or {"launchConfig":{"labels":{...}}}.
api_result<std::optional<std::map<std::string, std::string>>> parse_labels(
    const rapidjson::Value& body) {
  const rapidjson::Value* labels = nullptr;
  if (auto it = body.FindMember("labels"); it != body.MemberEnd()) labels = &it->value;
  if (auto lc = body.FindMember("launchConfig"); lc != body.MemberEnd() && lc->value.IsObject()) {
    if (auto it = lc->value.FindMember("labels"); it != lc->value.MemberEnd()) labels = &it->value;
  }
  if (!labels) return std::optional<std::map<std::string, std::string>>();
  std::map<std::string, std::string> out;
  if (labels->IsNull()) return std::optional(out);
  if (!labels->IsObject()) return validation_error("InvalidFormat", "labels");
  for (const auto& m : labels->GetObject()) {
    if (!m.value.IsString()) return validation_error("InvalidFormat", "labels");
    out.emplace(m.name.GetString(), m.value.GetString());
  }
  return std::optional(out);
}

bool uses(const service_record& s, const std::string& cert_id) {
  if (!s.lb || s.removed_ms) return false;
  return s.lb->default_certificate_id == cert_id ||
         std::find(s.lb->certificate_ids.begin(), s.lb->certificate_ids.end(), cert_id) !=
             s.lb->certificate_ids.end();
}

void write_links(json_writer& w, const std::string& self,
                 std::initializer_list<std::string_view> extra) {
  w.Key("links");
  w.StartObject();
  kv(w, "self", self);
  for (auto name : extra) {
    kv(w, name, self + "/" + std::string(name));
  }
  w.EndObject();
}

void write_actions(json_writer& w, const std::string& self,
                   std::initializer_list<std::string_view> names) {
  w.Key("actions");
  w.StartObject();
  for (auto name : names) {
    kv(w, name, fmt::format("{}/?action={}", self, name));
  }
  w.EndObject();
}

void write_transitioning(json_writer& w, bool transitioning) {
  kv(w, "transitioning", transitioning ? "yes" : "no");
  kv_null(w, "transitioningMessage");
  kv_null(w, "transitioningProgress");
}

// What a list filter compares a field of each record with (nullopt = null).
using field_getter = std::function<std::optional<std::string>(std::string_view)>;

std::optional<std::string> common_field(std::string_view field, const std::string& id,
                                        const std::string& name, std::string_view kind,
                                        const std::string& uuid, const std::string& state,
                                        std::int64_t created, std::optional<std::int64_t> removed,
                                        const std::string& account) {
  if (field == "id") return id;
  if (field == "name") return name;
  if (field == "kind") return std::string(kind);
  if (field == "uuid") return uuid;
  if (field == "state") return state;
  if (field == "accountId") return account;
  if (field == "created") return iso_date(created);
  if (field == "removed") return removed ? std::optional(iso_date(*removed)) : std::nullopt;
  return std::nullopt;
}

bool matches_all(const list_options& opts, const field_getter& get) {
  return std::all_of(opts.filters.begin(), opts.filters.end(),
                     [&](const filter& f) { return passes(f, get(f.field)); });
}

}  // namespace

std::span<const std::string_view> filterable_fields(std::string_view type) {
  if (type == "certificate") return certificate_filters;
  if (type == "service" || type == "loadBalancerService") return service_filters;
  if (type == "stack") return stack_filters;
  return project_filters;
}

store::store(std::string project_id, std::int64_t now_ms)
    : project_id_(std::move(project_id)), created_ms_(now_ms) {}

void store::changed(resource_kind kind, const std::string& id) const {
  if (on_change) on_change(kind, id);
}

certificate_record* store::cert_mut(const std::string& id) {
  auto n = number_of(id, "1c");
  auto it = n ? certs_.find(*n) : certs_.end();
  return it == certs_.end() ? nullptr : &it->second;
}

service_record* store::service_mut(const std::string& id) {
  auto n = number_of(id, "1s");
  auto it = n ? services_.find(*n) : services_.end();
  return it == services_.end() ? nullptr : &it->second;
}

const certificate_record* store::find_certificate(const std::string& id) const {
  return const_cast<store*>(this)->cert_mut(id);
}

const service_record* store::find_service(const std::string& id) const {
  return const_cast<store*>(this)->service_mut(id);
}

api_result<transition> store::create_certificate(const rapidjson::Value& body,
                                                 std::int64_t now_ms) {
  if (!body.IsObject()) return validation_error("InvalidBodyContent", "body");
  if (auto e = check_certificate_fields(body, true)) return *e;
  certificate_record c;
  c.name = *read_field(body, "name").value;
  for (const auto& [n, other] : certs_) {
    if (!other.removed_ms && other.name == c.name) return validation_error("NotUnique", "name");
  }
  c.cert = *read_field(body, "cert").value;
  auto facts = compute_cert_facts(c.cert);
  if (!facts) return coded_error(422, "InvalidFormat", facts.error());
  c.facts = std::move(*facts);
  c.key = *read_field(body, "key").value;
  c.cert_chain = read_field(body, "certChain").value;
  c.description = read_field(body, "description").value;
  c.n = next_cert_++;
  c.id = fmt::format("1c{}", c.n);
  c.uuid = random_uuid();
  c.state = "activating";
  c.transitioning = true;
  c.created_ms = now_ms;
  c.generation = 1;
  transition t{resource_kind::certificate, c.id, c.generation};
  certs_.emplace(c.n, std::move(c));
  changed(t.kind, t.id);
  return t;
}

api_result<std::optional<transition>> store::update_certificate(const std::string& id,
                                                                const rapidjson::Value& body) {
  certificate_record* c = cert_mut(id);
  if (!c) return status_error(404);
  if (!body.IsObject()) return validation_error("InvalidBodyContent", "body");
  if (c->state != "active") {
    return coded_error(409, "InvalidState",
                       fmt::format("certificate.update is not valid in state [{}]", c->state));
  }
  if (auto e = check_certificate_fields(body, false)) return *e;
  auto name = read_field(body, "name");
  if (name.value) {
    for (const auto& [n, other] : certs_) {
      if (&other != c && !other.removed_ms && other.name == *name.value) {
        return validation_error("NotUnique", "name");
      }
    }
  }
  auto cert = read_field(body, "cert");
  std::optional<cert_facts> facts;
  if (cert.value) {
    auto f = compute_cert_facts(*cert.value);
    if (!f) return coded_error(422, "InvalidFormat", f.error());
    facts = std::move(*f);
  }
  // Only values that differ from what GET shows are applied; the key always differs (GET shows
  // null), and cert, key and certChain carry scheduleUpdate: they run certificate.update.
  auto key = read_field(body, "key");
  auto chain = read_field(body, "certChain");
  auto description = read_field(body, "description");
  bool process = (cert.value && *cert.value != c->cert) || key.value ||
                 (chain.present && chain.value != c->cert_chain);
  if (name.value) c->name = *name.value;
  if (description.present) c->description = description.value;
  if (cert.value) {
    c->cert = *cert.value;
    c->facts = std::move(*facts);
  }
  if (key.value) c->key = *key.value;
  if (chain.present) c->cert_chain = chain.value;
  std::optional<transition> t;
  if (process) {
    c->state = "updating-active";
    c->transitioning = true;
    t = transition{resource_kind::certificate, c->id, ++c->generation};
  }
  changed(resource_kind::certificate, c->id);
  return t;
}

api_result<transition> store::remove_certificate(const std::string& id) {
  certificate_record* c = cert_mut(id);
  if (!c) return status_error(404);
  std::string users;
  for (const auto& [n, s] : services_) {
    if (uses(s, id)) users += (users.empty() ? "" : ",") + s.name;
  }
  if (!users.empty()) {
    return coded_error(405, "InvalidAction",
                       "Certificate is in use by load balancer services: " + users);
  }
  if (c->state != "active" && c->state != "activating" && c->state != "requested") {
    return coded_error(409, "InvalidState",
                       fmt::format("certificate.remove is not valid in state [{}]", c->state));
  }
  c->state = "removing";
  c->transitioning = true;
  transition t{resource_kind::certificate, c->id, ++c->generation};
  changed(t.kind, t.id);
  return t;
}

api_result<transition> store::create_service(const rapidjson::Value& body, std::int64_t now_ms) {
  if (!body.IsObject()) return validation_error("InvalidBodyContent", "body");
  service_record s;
  auto name = read_field(body, "name");
  if (!name.value || name.value->empty()) return validation_error("MissingRequired", "name");
  s.name = *name.value;
  auto kind = read_field(body, "kind");
  s.kind = kind.value.value_or("service");
  if (s.kind != "service" && s.kind != "loadBalancerService") {
    return validation_error("InvalidOption", "kind");
  }
  s.description = read_field(body, "description").value;
  auto labels = parse_labels(body);
  if (!labels) return labels.error();
  s.labels = labels->value_or(std::map<std::string, std::string>());
  if (s.is_lb()) {
    s.lb.emplace();
    if (auto it = body.FindMember("lbConfig"); it != body.MemberEnd()) {
      auto lb = parse_lb_config(it->value);
      if (!lb) return lb.error();
      s.lb = std::move(*lb);
    }
    s.reload_pending = true;  // a new balancer builds its configuration once it runs
  }
  s.n = next_service_++;
  s.id = fmt::format("1s{}", s.n);
  s.uuid = random_uuid();
  s.state = "activating";
  s.transitioning = true;
  s.created_ms = now_ms;
  s.generation = 1;
  transition t{resource_kind::service, s.id, s.generation};
  services_.emplace(s.n, std::move(s));
  changed(t.kind, t.id);
  return t;
}

api_result<std::optional<transition>> store::update_service(const std::string& id,
                                                            const rapidjson::Value& body) {
  service_record* s = service_mut(id);
  if (!s) return status_error(404);
  if (!body.IsObject()) return validation_error("InvalidBodyContent", "body");
  auto name = read_field(body, "name");
  if (name.present && (!name.value || name.value->empty())) {
    return validation_error("NotNullable", "name");
  }
  auto description = read_field(body, "description");
  auto labels = parse_labels(body);
  if (!labels) return labels.error();
  std::optional<lb_config> lb;
  if (auto it = body.FindMember("lbConfig"); s->is_lb() && it != body.MemberEnd()) {
    auto parsed = parse_lb_config(it->value);
    if (!parsed) return parsed.error();
    lb = std::move(*parsed);
  }
  bool lb_changed = lb && *lb != *s->lb;
  bool process = lb_changed || (*labels && **labels != s->labels);
  if (process && (s->state == "removing" || s->state == "removed")) {
    return coded_error(409, "InvalidState",
                       fmt::format("service.update is not valid in state [{}]", s->state));
  }
  if (name.value) s->name = *name.value;
  if (description.present) s->description = description.value;
  if (*labels) s->labels = std::move(**labels);
  if (lb) s->lb = std::move(*lb);
  std::optional<transition> t;
  if (process) {
    s->state = "updating-active";
    s->transitioning = true;
    s->reload_pending = s->reload_pending || lb_changed;
    t = transition{resource_kind::service, s->id, ++s->generation};
  }
  changed(resource_kind::service, s->id);
  return t;
}

api_result<transition> store::update_service_action(const std::string& id) {
  service_record* s = service_mut(id);
  if (!s) return status_error(404);
  if (s->state == "removing" || s->state == "removed") {
    return coded_error(409, "InvalidState",
                       fmt::format("service.update is not valid in state [{}]", s->state));
  }
  // Accepted while another update runs too: the latest one finishes and rebuilds the balancer.
  s->state = "updating-active";
  s->transitioning = true;
  s->reload_pending = s->is_lb();
  transition t{resource_kind::service, s->id, ++s->generation};
  changed(t.kind, t.id);
  return t;
}

api_result<transition> store::remove_service(const std::string& id) {
  service_record* s = service_mut(id);
  if (!s) return status_error(404);
  if (s->state == "removing" || s->state == "removed") {
    return coded_error(409, "InvalidState",
                       fmt::format("service.remove is not valid in state [{}]", s->state));
  }
  s->state = "removing";
  s->transitioning = true;
  s->reload_pending = false;
  transition t{resource_kind::service, s->id, ++s->generation};
  changed(t.kind, t.id);
  return t;
}

std::vector<std::string> store::finish(const transition& t, std::int64_t now_ms) {
  std::vector<std::string> reload;
  if (t.kind == resource_kind::certificate) {
    certificate_record* c = cert_mut(t.id);
    if (!c || c->generation != t.generation || !c->transitioning) return reload;
    bool updated = c->state == "updating-active";
    if (c->state == "removing") {
      c->state = "removed";
      c->removed_ms = now_ms;
    } else {
      c->state = "active";
    }
    c->transitioning = false;
    if (updated && reload_on_certificate_update) {
      for (const auto& [n, s] : services_) {
        if (uses(s, c->id)) reload.push_back(s.id);
      }
    }
  } else {
    service_record* s = service_mut(t.id);
    if (!s || s->generation != t.generation || !s->transitioning) return reload;
    if (s->state == "removing") {
      s->state = "removed";
      s->removed_ms = now_ms;
    } else {
      s->state = "active";
      if (s->is_lb() && s->reload_pending) reload.push_back(s->id);
    }
    s->reload_pending = false;
    s->transitioning = false;
  }
  changed(t.kind, t.id);
  return reload;
}

void store::render(json_writer& w, const certificate_record& c, const render_context& ctx,
                   bool with_key) const {
  std::string self = ctx.base + "/certificates/" + c.id;
  w.StartObject();
  kv(w, "id", c.id);
  kv(w, "type", "certificate");
  write_links(w, self, {"account"});
  if (c.state == "active") {
    write_actions(w, self, {"update", "remove"});
  } else if (c.state == "activating") {
    write_actions(w, self, {"remove"});
  } else {
    write_actions(w, self, {});
  }
  kv(w, "baseType", "certificate");
  kv_nullable(w, "CN", c.facts.cn);
  kv(w, "accountId", project_id_);
  kv(w, "algorithm", c.facts.algorithm);
  kv(w, "cert", c.cert);
  kv_nullable(w, "certChain", c.cert_chain);
  kv(w, "certFingerprint", c.facts.fingerprint);
  write_date(w, "created", c.created_ms);
  kv_nullable(w, "description", c.description);
  kv(w, "expiresAt", c.facts.expires_at);
  kv(w, "issuedAt", c.facts.issued_at);
  kv(w, "issuer", c.facts.issuer);
  // "certificate.key":"curo" for an environment key: readable only in the create response.
  kv_nullable(w, "key", with_key ? std::optional(c.key) : std::nullopt);
  w.Key("keySize");
  if (c.facts.key_size) {
    w.Int(*c.facts.key_size);
  } else {
    w.Null();
  }
  kv(w, "kind", "certificate");
  kv(w, "name", c.name);
  write_date(w, "removed", c.removed_ms);
  kv(w, "serialNumber", c.facts.serial_number);
  kv(w, "state", c.state);
  w.Key("subjectAlternativeNames");
  w.StartArray();
  for (const auto& san : c.facts.subject_alternative_names)
    write_string(w, san);
  w.EndArray();
  write_transitioning(w, c.transitioning);
  kv(w, "uuid", c.uuid);
  kv(w, "version", c.facts.version);
  w.EndObject();
}

void store::render(json_writer& w, const service_record& s, const render_context& ctx) const {
  std::string self = ctx.base + (s.is_lb() ? "/loadbalancerservices/" : "/services/") + s.id;
  w.StartObject();
  kv(w, "id", s.id);
  kv(w, "type", s.kind);
  write_links(w, self,
              {"account", "consumedbyservices", "consumedservices", "instances",
               "serviceexposemaps", "stack"});
  if (s.state == "active") {
    write_actions(w, self,
                  {"upgrade", "restart", "update", "remove", "deactivate", "addservicelink",
                   "removeservicelink", "setservicelinks"});
  } else if (s.state == "activating" || s.state == "updating-active") {
    write_actions(w, self, {"remove"});
  } else {
    write_actions(w, self, {});
  }
  kv(w, "baseType", "service");
  kv(w, "accountId", project_id_);
  kv_bool(w, "assignServiceIpAddress", false);
  kv_int(w, "createIndex", s.n);
  write_date(w, "created", s.created_ms);
  kv_int(w, "currentScale", 1);
  kv_nullable(w, "description", s.description);
  kv_null(w, "externalId");
  kv_null(w, "fqdn");
  kv(w, "healthState", "healthy");
  kv_empty_array(w, "instanceIds");
  kv(w, "kind", s.kind);
  w.Key("launchConfig");
  w.StartObject();
  kv(w, "type", "launchConfig");
  kv(w, "imageUuid",
     s.is_lb() ? "docker:rancher/lb-service-haproxy:v0.7.9" : "docker:nginx:latest");
  kv(w, "kind", "container");
  w.Key("labels");
  w.StartObject();
  for (const auto& [k, v] : s.labels) {
    kv(w, k, v);
  }
  w.EndObject();
  kv(w, "networkMode", "managed");
  w.EndObject();
  if (s.lb) {
    w.Key("lbConfig");
    w.StartObject();
    kv(w, "type", "lbConfig");
    w.Key("certificateIds");
    w.StartArray();
    for (const auto& id : s.lb->certificate_ids)
      write_string(w, id);
    w.EndArray();
    kv_null(w, "config");
    kv_nullable(w, "defaultCertificateId", s.lb->default_certificate_id);
    w.Key("portRules");
    w.RawValue(s.lb->port_rules.data(), s.lb->port_rules.size(), rapidjson::kArrayType);
    kv_null(w, "stickinessPolicy");
    w.EndObject();
  }
  kv_empty_object(w, "linkedServices");
  kv_null(w, "metadata");
  kv(w, "name", s.name);
  kv_empty_array(w, "publicEndpoints");
  write_date(w, "removed", s.removed_ms);
  kv_int(w, "scale", 1);
  if (!s.lb) {
    kv_empty_array(w, "secondaryLaunchConfigs");
  }
  kv_null(w, "selectorContainer");
  kv_null(w, "selectorLink");
  kv(w, "stackId", stack_id);
  kv_bool(w, "startOnCreate", true);
  kv(w, "state", s.state);
  kv_bool(w, "system", false);
  write_transitioning(w, s.transitioning);
  kv_null(w, "upgrade");
  kv(w, "uuid", s.uuid);
  kv_null(w, "vip");
  w.EndObject();
}

void store::render_project(json_writer& w, const render_context& ctx) const {
  // The project's own URL is never under another project's prefix.
  std::string root = ctx.base.substr(0, ctx.base.find("/projects/"));
  std::string self = root + "/projects/" + project_id_;
  w.StartObject();
  kv(w, "id", project_id_);
  kv(w, "type", "project");
  write_links(
      w, self,
      {"certificates", "loadbalancerservices", "schemas", "services", "stacks", "subscribe"});
  write_actions(w, self, {});
  kv(w, "baseType", "project");
  write_date(w, "created", created_ms_);
  kv_null(w, "defaultNetworkId");
  kv_null(w, "description");
  kv(w, "healthState", "healthy");
  kv(w, "kind", "project");
  kv_empty_array(w, "members");
  kv(w, "name", "Default");
  kv(w, "orchestration", "cattle");
  write_date(w, "removed", std::nullopt);
  kv_null(w, "servicesPortRange");
  kv(w, "state", "active");
  write_transitioning(w, false);
  kv(w, "uuid", "adminProject");
  kv(w, "version", "3");
  kv_bool(w, "virtualMachine", false);
  w.EndObject();
}

void store::render_stack(json_writer& w, const render_context& ctx) const {
  std::string self = ctx.base + "/stacks/" + std::string(stack_id);
  w.StartObject();
  kv(w, "id", stack_id);
  kv(w, "type", "stack");
  write_links(w, self, {"account", "services"});
  write_actions(w, self, {"update", "remove"});
  kv(w, "baseType", "stack");
  kv(w, "accountId", project_id_);
  write_date(w, "created", created_ms_);
  kv_null(w, "description");
  kv_null(w, "externalId");
  kv_null(w, "group");
  kv(w, "healthState", "healthy");
  kv(w, "kind", "stack");
  kv(w, "name", "Default");
  write_date(w, "removed", std::nullopt);
  w.Key("serviceIds");
  w.StartArray();
  for (const auto& [n, s] : services_) {
    if (!s.removed_ms) write_string(w, s.id);
  }
  w.EndArray();
  kv(w, "state", "active");
  kv_bool(w, "system", false);
  write_transitioning(w, false);
  kv(w, "uuid", "default-stack");
  w.EndObject();
}

std::optional<std::string> store::render(resource_kind kind, const std::string& id,
                                         const render_context& ctx) const {
  rapidjson::StringBuffer out;
  json_writer w(out);
  if (kind == resource_kind::certificate) {
    const certificate_record* c = find_certificate(id);
    if (!c) return std::nullopt;
    render(w, *c, ctx, false);
  } else {
    const service_record* s = find_service(id);
    if (!s) return std::nullopt;
    render(w, *s, ctx);
  }
  return std::string(out.GetString(), out.GetSize());
}

std::string store::list(std::string_view type, const query_params& params,
                        std::string_view self_url, const render_context& ctx) const {
  auto filterable = filterable_fields(type);
  list_options opts = parse_list_options(params, filterable);
  // Every matching resource is a callable that renders it: one page of them gets written.
  std::vector<std::function<void(json_writer&)>> rows;
  auto visible = [&](const std::optional<std::int64_t>& removed) {
    return opts.include_removed || !removed;
  };
  std::optional<std::string> create_url;
  if (type == "certificate") {
    create_url = ctx.base + "/certificates";
    for (const auto& entry : certs_) {
      const auto& c = entry.second;  // a reference, not a binding: clang 14 cannot capture those
      auto get = [&c, this](std::string_view f) -> std::optional<std::string> {
        if (f == "description") return c.description;
        if (f == "cert") return c.cert;
        if (f == "certChain") return c.cert_chain;
        return common_field(f, c.id, c.name, "certificate", c.uuid, c.state, c.created_ms,
                            c.removed_ms, project_id_);
      };
      if (visible(c.removed_ms) && matches_all(opts, get)) {
        rows.push_back([&, rec = &c](json_writer& w) { render(w, *rec, ctx, false); });
      }
    }
  } else if (type == "service" || type == "loadBalancerService") {
    create_url = ctx.base + (type == "service" ? "/services" : "/loadbalancerservices");
    for (const auto& entry : services_) {
      const auto& s = entry.second;  // a reference, not a binding: clang 14 cannot capture those
      auto get = [&s, this](std::string_view f) -> std::optional<std::string> {
        if (f == "description") return s.description;
        if (f == "stackId") return std::string(stack_id);
        if (f == "healthState") return "healthy";
        if (f == "system") return "false";
        if (f == "createIndex") return std::to_string(s.n);
        return common_field(f, s.id, s.name, s.kind, s.uuid, s.state, s.created_ms, s.removed_ms,
                            project_id_);
      };
      if (type == "loadBalancerService" && !s.is_lb()) continue;
      if (visible(s.removed_ms) && matches_all(opts, get)) {
        rows.push_back([&, rec = &s](json_writer& w) { render(w, *rec, ctx); });
      }
    }
  } else if (type == "stack" || type == "project") {
    bool stack = type == "stack";
    auto get = [&](std::string_view f) -> std::optional<std::string> {
      if (stack) {
        return common_field(f, std::string(stack_id), "Default", "stack", "default-stack", "active",
                            created_ms_, std::nullopt, project_id_);
      }
      if (f == "accountId") return std::nullopt;
      return common_field(f, project_id_, "Default", "project", "adminProject", "active",
                          created_ms_, std::nullopt, project_id_);
    };
    if (stack) create_url = ctx.base + "/stacks";
    if (matches_all(opts, get)) {
      rows.push_back(
          [&, stack](json_writer& w) { stack ? render_stack(w, ctx) : render_project(w, ctx); });
    }
  }
  bool more = rows.size() > opts.offset + opts.limit;
  std::size_t begin = std::min(opts.offset, rows.size());
  std::size_t end = std::min(opts.offset + opts.limit, rows.size());
  rapidjson::StringBuffer out;
  json_writer w(out);
  collection_info info{std::string(type), std::string(self_url), create_url, filterable};
  write_collection(w, info, opts, more, [&](json_writer& jw) {
    for (std::size_t i = begin; i < end; ++i)
      rows[i](jw);
  });
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace certherd::sim
