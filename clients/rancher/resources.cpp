#include "clients/rancher/resources.hpp"
#include "clients/json/parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <boost/throw_exception.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <ostream>
#include <stdexcept>

namespace certherd::rancher {
namespace {

using json = rapidjson::Value;

error decode_failure(std::string message) {
  return error{0, "decode", std::move(message), {}};
}

result<rapidjson::Document> parse(std::string_view body, std::string_view what) {
  rapidjson::Document doc;
  if (auto why = certherd::json::parse(doc, body, /*stop_when_done=*/true,
                                       certherd::json::kMaxRancherDepth)) {
    return decode_failure(fmt::format("{} is not JSON ({})", what, *why));
  }
  if (!doc.IsObject()) return decode_failure(fmt::format("{} is not a JSON object", what));
  return doc;
}

// Fields are read leniently: a missing field, a null or a value of another type reads as empty.
std::string text(const json& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const json* member(const json& o, const char* key) {
  auto it = o.FindMember(key);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

std::vector<std::string> strings(const json* v) {
  std::vector<std::string> out;
  if (!v || !v->IsArray()) return out;
  for (const auto& item : v->GetArray()) {
    if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

std::string link(const json& o, const char* name) {
  const json* links = member(o, "links");
  return links && links->IsObject() ? text(*links, name) : std::string{};
}

bool removed_of(const json& o, const std::string& state) {
  const json* removed = member(o, "removed");
  return is_removed_state(state) || (removed && !removed->IsNull());
}

std::string fingerprint_hex(std::string_view colons) {
  std::string out;
  for (char c : colons) {
    if (std::isxdigit(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

result<certificate> certificate_of(const json& o) {
  if (!o.IsObject()) return decode_failure("certificate is not an object");
  certificate c;
  c.id = text(o, "id");
  if (c.id.empty()) return decode_failure("certificate has no id");
  c.name = text(o, "name");
  c.state = text(o, "state");
  c.transitioning = text(o, "transitioning");
  c.transitioning_message = text(o, "transitioningMessage");
  c.cert = text(o, "cert");
  c.cert_chain = text(o, "certChain");
  c.common_name = text(o, "CN");
  c.subject_alternative_names = strings(member(o, "subjectAlternativeNames"));
  c.fingerprint_sha1 = fingerprint_hex(text(o, "certFingerprint"));
  c.serial_number = text(o, "serialNumber");
  c.expires_at = parse_java_date(text(o, "expiresAt"));
  c.self_link = link(o, "self");
  c.removed = removed_of(o, c.state);
  return c;
}

result<service> service_of(const json& o) {
  if (!o.IsObject()) return decode_failure("service is not an object");
  service s;
  s.id = text(o, "id");
  if (s.id.empty()) return decode_failure("service has no id");
  s.name = text(o, "name");
  s.type = text(o, "type");
  s.kind = text(o, "kind");
  s.state = text(o, "state");
  s.transitioning = text(o, "transitioning");
  s.stack_id = text(o, "stackId");
  s.self_link = link(o, "self");
  s.removed = removed_of(o, s.state);
  if (const json* launch = member(o, "launchConfig"); launch && launch->IsObject()) {
    if (const json* labels = member(*launch, "labels"); labels && labels->IsObject()) {
      for (const auto& m : labels->GetObject()) {
        if (!m.value.IsString()) continue;  // label values are strings; anything else is junk
        s.labels.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                         std::string(m.value.GetString(), m.value.GetStringLength()));
      }
    }
  }
  // v2-beta keeps the certificates under lbConfig; v1 load balancers had them at the top level.
  const json* lb = member(o, "lbConfig");
  const json& holder = lb && lb->IsObject() ? *lb : o;
  s.certificate_ids = strings(member(holder, "certificateIds"));
  s.default_certificate_id = text(holder, "defaultCertificateId");
  return s;
}

template <class T, class Decode>
result<page<T>> page_of(std::string_view body, std::string_view what, Decode decode) {
  auto doc = parse(body, what);
  if (!doc) return doc.error();
  const json* data = member(*doc, "data");
  if (!data || !data->IsArray()) return decode_failure(fmt::format("{} has no data array", what));
  page<T> out;
  for (const auto& item : data->GetArray()) {
    auto one = decode(item);
    if (one) {
      out.data.push_back(std::move(*one));
    } else {
      out.problems.push_back(one.error().message);
    }
  }
  if (const json* p = member(*doc, "pagination"); p && p->IsObject()) out.next = text(*p, "next");
  return out;
}

}  // namespace

error_kind error::kind() const noexcept {
  switch (status) {
    case 0:
      return code == "decode" ? error_kind::decode
             : transport()    ? error_kind::transport
                              : error_kind::other;
    case 401:
      return error_kind::unauthorized;
    case 403:
      return error_kind::forbidden;
    case 404:
      return error_kind::not_found;
    case 405:
      return error_kind::not_allowed;
    case 409:
      return error_kind::conflict;
    case 422:
      return error_kind::invalid;
    default:
      return status >= 500 ? error_kind::server : error_kind::other;
  }
}

std::string_view to_string(error_kind k) noexcept {
  switch (k) {
    case error_kind::transport:
      return "transport";
    case error_kind::decode:
      return "decode";
    case error_kind::unauthorized:
      return "unauthorized";
    case error_kind::forbidden:
      return "forbidden";
    case error_kind::not_found:
      return "not_found";
    case error_kind::not_allowed:
      return "not_allowed";
    case error_kind::conflict:
      return "conflict";
    case error_kind::invalid:
      return "invalid";
    case error_kind::server:
      return "server";
    case error_kind::other:
      return "other";
  }
  return "?";
}

bool error::retryable() const noexcept {
  auto k = kind();
  return k == error_kind::transport || k == error_kind::server || k == error_kind::conflict;
}

std::string error::to_string() const {
  if (status == 0) return fmt::format("{}: {}", code, message);
  std::string out = fmt::format("HTTP {}", status);
  if (!code.empty()) out += " " + code;
  if (!field_name.empty()) out += fmt::format(" (field {})", field_name);
  if (!message.empty() && message != code) out += ": " + message;
  return out;
}

std::ostream& operator<<(std::ostream& os, const error& e) {
  return os << e.to_string();
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.to_string()), loc);
}

bool service::is_load_balancer() const noexcept {
  return type == "loadBalancerService" || kind == "loadBalancerService";
}

bool service::references(std::string_view certificate_id) const noexcept {
  return default_certificate_id == certificate_id ||
         std::find(certificate_ids.begin(), certificate_ids.end(), certificate_id) !=
             certificate_ids.end();
}

std::string_view to_string(event::kind k) noexcept {
  switch (k) {
    case event::kind::ping:
      return "ping";
    case event::kind::resource_change:
      return "resource.change";
    case event::kind::logout:
      return "logout";
    case event::kind::other:
      return "other";
  }
  return "?";
}

bool is_removed_state(std::string_view state) noexcept {
  return state == "removed" || state == "purging" || state == "purged";
}

std::optional<sys_seconds> parse_java_date(std::string_view text) {
  // "EEE MMM dd HH:mm:ss zzz yyyy"; only UTC/GMT zones are read: another zone would need the
  // server JVM's zone database, and the certificate's own notAfter is authoritative anyway.
  static constexpr std::array<std::string_view, 12> months{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() < 28 || text.size() > 40) return std::nullopt;
  std::string_view mon = text.substr(4, 3);
  auto m = std::find(months.begin(), months.end(), mon);
  if (m == months.end()) return std::nullopt;
  auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > text.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto day = number(8, 2), hh = number(11, 2), mm = number(14, 2), ss = number(17, 2);
  std::size_t zone_end = text.find(' ', 20);
  if (zone_end == std::string_view::npos) return std::nullopt;
  std::string_view zone = text.substr(20, zone_end - 20);
  if (zone != "UTC" && zone != "GMT") return std::nullopt;
  auto year = number(zone_end + 1, 4);
  if (!day || !hh || !mm || !ss || !year || zone_end + 5 != text.size()) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(*year),
                                  std::chrono::month(static_cast<unsigned>(m - months.begin() + 1)),
                                  std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok() || *hh > 23 || *mm > 59 || *ss > 60) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::hours(*hh) + std::chrono::minutes(*mm) +
         std::chrono::seconds(*ss);
}

result<certificate> decode_certificate(std::string_view body) {
  auto doc = parse(body, "certificate");
  if (!doc) return doc.error();
  return certificate_of(*doc);
}

result<page<certificate>> decode_certificates(std::string_view body) {
  return page_of<certificate>(body, "certificate collection", certificate_of);
}

result<service> decode_service(std::string_view body) {
  auto doc = parse(body, "service");
  if (!doc) return doc.error();
  return service_of(*doc);
}

result<page<service>> decode_services(std::string_view body) {
  return page_of<service>(body, "service collection", service_of);
}

result<std::string> decode_project_id(std::string_view body) {
  auto doc = parse(body, "project collection");
  if (!doc) return doc.error();
  const json* data = member(*doc, "data");
  if (!data || !data->IsArray() || data->Empty() || !(*data)[0].IsObject())
    return decode_failure(
        "project collection holds no project: is the API key an environment key?");
  std::string id = text((*data)[0], "id");
  if (id.empty()) return decode_failure("project has no id");
  return id;
}

result<event> decode_event(std::string_view frame) {
  auto doc = parse(frame, "event");
  if (!doc) return doc.error();
  event e;
  e.name = text(*doc, "name");
  // The server subscribes to qualified names ("resource.change;account=1a5") and strips the
  // qualifier before sending; strip it here too in case a version does not.
  std::string_view base = e.name;
  base = base.substr(0, base.find(';'));
  e.resource_type = text(*doc, "resourceType");
  e.resource_id = text(*doc, "resourceId");
  if (base == "ping") {
    e.what = event::kind::ping;
  } else if (base == "logout") {
    e.what = event::kind::logout;
  } else if (base == "resource.change") {
    e.what = event::kind::resource_change;
    const json* data = member(*doc, "data");
    const json* resource = data && data->IsObject() ? member(*data, "resource") : nullptr;
    if (resource && resource->IsObject()) {
      std::string type = text(*resource, "type");
      if (e.resource_type.empty()) e.resource_type = type;
      if (e.resource_type == "certificate") {
        auto c = certificate_of(*resource);
        if (!c) return c.error();
        e.certificate_snapshot = std::move(*c);
      } else if (text(*resource, "baseType") == "service" || e.resource_type == "service" ||
                 e.resource_type.ends_with("Service")) {
        auto s = service_of(*resource);
        if (!s) return s.error();
        e.service_snapshot = std::move(*s);
      }
    }
  }
  return e;
}

error decode_error(unsigned status, std::string_view body) {
  error e{status, {}, {}, {}};
  rapidjson::Document doc;
  if (!certherd::json::parse(doc, body, false, certherd::json::kMaxRancherDepth) &&
      doc.IsObject() && text(doc, "type") == "error") {
    e.code = text(doc, "code");
    e.message = text(doc, "message");
    if (e.message.empty()) e.message = text(doc, "detail");
    e.field_name = text(doc, "fieldName");
  }
  // Messages are Rancher's own words; cap them so a huge body cannot flood a log line.
  if (e.message.size() > 300) e.message = e.message.substr(0, 300) + "…";
  return e;
}

}  // namespace certherd::rancher
