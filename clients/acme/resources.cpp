#include "clients/acme/resources.hpp"
#include "clients/json/parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <ostream>

namespace certherd::acme {
namespace {

using json = rapidjson::Value;

error malformed(std::string_view what, std::string_view why) {
  return {errc::bad_response, fmt::format("{}: {}", what, why), {}};
}

std::string string_member(const json& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

template <class Enum, std::size_t N>
std::optional<Enum> enum_member(const json& obj, const char* name, const Enum (&all)[N]) {
  std::string text = string_member(obj, name);
  for (Enum e : all) {
    if (to_string(e) == text) return e;
  }
  return std::nullopt;
}

result<rapidjson::Document> parse_object(std::string_view body, std::string_view what) {
  rapidjson::Document doc;
  if (auto why = certherd::json::parse(doc, body))
    return malformed(what, "body is not JSON: " + *why);
  if (!doc.IsObject()) return malformed(what, "body is not a JSON object");
  return doc;
}

problem problem_from(const json& v) {
  problem p;
  p.type = string_member(v, "type");
  p.detail = string_member(v, "detail");
  if (auto s = v.FindMember("status"); s != v.MemberEnd() && s->value.IsUint()) {
    p.status = s->value.GetUint();
  }
  if (auto subs = v.FindMember("subproblems"); subs != v.MemberEnd() && subs->value.IsArray()) {
    for (const auto& sub : subs->value.GetArray()) {
      if (!sub.IsObject()) continue;
      subproblem sp{string_member(sub, "type"), string_member(sub, "detail"), {}};
      if (auto id = sub.FindMember("identifier"); id != sub.MemberEnd() && id->value.IsObject()) {
        sp.identifier = string_member(id->value, "value");
      }
      p.subproblems.push_back(std::move(sp));
    }
  }
  return p;
}

std::optional<problem> problem_member(const json& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsObject()) return std::nullopt;
  return problem_from(it->value);
}

constexpr account_status kAccountStatuses[] = {account_status::valid, account_status::deactivated,
                                               account_status::revoked};
constexpr order_status kOrderStatuses[] = {order_status::pending, order_status::ready,
                                           order_status::processing, order_status::valid,
                                           order_status::invalid};
constexpr authorization_status kAuthzStatuses[] = {
    authorization_status::pending, authorization_status::valid,
    authorization_status::invalid, authorization_status::deactivated,
    authorization_status::expired, authorization_status::revoked};
constexpr challenge_status kChallengeStatuses[] = {
    challenge_status::pending, challenge_status::processing, challenge_status::valid,
    challenge_status::invalid};

}  // namespace

std::string_view to_string(account_status s) noexcept {
  switch (s) {
    case account_status::valid:
      return "valid";
    case account_status::deactivated:
      return "deactivated";
    case account_status::revoked:
      return "revoked";
  }
  return "?";
}

std::string_view to_string(order_status s) noexcept {
  switch (s) {
    case order_status::pending:
      return "pending";
    case order_status::ready:
      return "ready";
    case order_status::processing:
      return "processing";
    case order_status::valid:
      return "valid";
    case order_status::invalid:
      return "invalid";
  }
  return "?";
}

std::string_view to_string(authorization_status s) noexcept {
  switch (s) {
    case authorization_status::pending:
      return "pending";
    case authorization_status::valid:
      return "valid";
    case authorization_status::invalid:
      return "invalid";
    case authorization_status::deactivated:
      return "deactivated";
    case authorization_status::expired:
      return "expired";
    case authorization_status::revoked:
      return "revoked";
  }
  return "?";
}

std::string_view to_string(challenge_status s) noexcept {
  switch (s) {
    case challenge_status::pending:
      return "pending";
    case challenge_status::processing:
      return "processing";
    case challenge_status::valid:
      return "valid";
    case challenge_status::invalid:
      return "invalid";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, order_status s) {
  return os << to_string(s);
}
std::ostream& operator<<(std::ostream& os, authorization_status s) {
  return os << to_string(s);
}

const challenge* authorization::find(std::string_view type) const {
  for (const auto& c : challenges) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

result<directory> parse_directory(std::string_view body) {
  auto doc = parse_object(body, "directory");
  if (!doc) return doc.error();
  directory d;
  d.new_nonce = string_member(*doc, "newNonce");
  d.new_account = string_member(*doc, "newAccount");
  d.new_order = string_member(*doc, "newOrder");
  d.revoke_cert = string_member(*doc, "revokeCert");
  d.key_change = string_member(*doc, "keyChange");
  d.renewal_info = string_member(*doc, "renewalInfo");
  if (d.new_nonce.empty() || d.new_account.empty() || d.new_order.empty()) {
    return malformed("directory", "newNonce, newAccount and newOrder are required");
  }
  if (auto meta = doc->FindMember("meta"); meta != doc->MemberEnd() && meta->value.IsObject()) {
    d.terms_of_service = string_member(meta->value, "termsOfService");
    if (auto eab = meta->value.FindMember("externalAccountRequired");
        eab != meta->value.MemberEnd() && eab->value.IsBool()) {
      d.external_account_required = eab->value.GetBool();
    }
    if (auto profiles = meta->value.FindMember("profiles");
        profiles != meta->value.MemberEnd() && profiles->value.IsObject()) {
      for (const auto& m : profiles->value.GetObject())
        d.profiles.emplace_back(m.name.GetString());
    }
  }
  return d;
}

result<account> parse_account(std::string_view body) {
  auto doc = parse_object(body, "account");
  if (!doc) return doc.error();
  account a;
  auto status = enum_member(*doc, "status", kAccountStatuses);
  if (!status) return malformed("account", "missing or unknown status");
  a.status = *status;
  if (auto c = doc->FindMember("contact"); c != doc->MemberEnd() && c->value.IsArray()) {
    for (const auto& v : c->value.GetArray()) {
      if (v.IsString()) a.contact.emplace_back(v.GetString());
    }
  }
  return a;
}

result<order> parse_order(std::string_view body) {
  auto doc = parse_object(body, "order");
  if (!doc) return doc.error();
  order o;
  auto status = enum_member(*doc, "status", kOrderStatuses);
  if (!status) return malformed("order", "missing or unknown status");
  o.status = *status;
  if (auto ids = doc->FindMember("identifiers"); ids != doc->MemberEnd() && ids->value.IsArray()) {
    for (const auto& v : ids->value.GetArray()) {
      if (v.IsObject())
        o.identifiers.push_back({string_member(v, "type"), string_member(v, "value")});
    }
  }
  auto authz = doc->FindMember("authorizations");
  if (authz == doc->MemberEnd() || !authz->value.IsArray()) {
    return malformed("order", "authorizations missing");
  }
  for (const auto& v : authz->value.GetArray()) {
    if (!v.IsString()) return malformed("order", "authorization URL is not a string");
    o.authorizations.emplace_back(v.GetString());
  }
  o.finalize = string_member(*doc, "finalize");
  if (o.finalize.empty()) return malformed("order", "finalize URL missing");
  o.certificate = string_member(*doc, "certificate");
  if (o.status == order_status::valid && o.certificate.empty()) {
    return malformed("order", "valid order without certificate URL");
  }
  o.error = problem_member(*doc, "error");
  return o;
}

result<authorization> parse_authorization(std::string_view body) {
  auto doc = parse_object(body, "authorization");
  if (!doc) return doc.error();
  authorization a;
  auto status = enum_member(*doc, "status", kAuthzStatuses);
  if (!status) return malformed("authorization", "missing or unknown status");
  a.status = *status;
  auto id = doc->FindMember("identifier");
  if (id == doc->MemberEnd() || !id->value.IsObject()) {
    return malformed("authorization", "identifier missing");
  }
  a.id = {string_member(id->value, "type"), string_member(id->value, "value")};
  if (auto w = doc->FindMember("wildcard"); w != doc->MemberEnd() && w->value.IsBool()) {
    a.wildcard = w->value.GetBool();
  }
  auto challenges = doc->FindMember("challenges");
  if (challenges == doc->MemberEnd() || !challenges->value.IsArray()) {
    return malformed("authorization", "challenges missing");
  }
  for (const auto& c : challenges->value.GetArray()) {
    if (!c.IsObject()) continue;
    challenge ch;
    ch.type = string_member(c, "type");
    ch.url = string_member(c, "url");
    ch.token = string_member(c, "token");
    auto cs = enum_member(c, "status", kChallengeStatuses);
    if (ch.url.empty() || !cs) return malformed("authorization", "challenge without url or status");
    ch.status = *cs;
    ch.error = problem_member(c, "error");
    a.challenges.push_back(std::move(ch));
  }
  return a;
}

std::optional<problem> parse_problem(std::string_view body) {
  rapidjson::Document doc;
  if (certherd::json::parse(doc, body) || !doc.IsObject()) return std::nullopt;
  problem p = problem_from(doc);
  if (p.type.empty()) return std::nullopt;
  return p;
}

std::optional<std::string> profile_problem(const directory& d, std::string_view profile) {
  if (profile.empty()) return std::nullopt;
  if (std::find(d.profiles.begin(), d.profiles.end(), profile) != d.profiles.end()) {
    return std::nullopt;
  }
  if (d.profiles.empty()) {
    return fmt::format(
        "ACME_PROFILE={}: the CA offers no profiles (no meta.profiles in its directory)", profile);
  }
  // The CA's names, as many as a line holds (a directory is outside input).
  std::string offered;
  for (std::size_t i = 0; i < d.profiles.size() && i < 10; ++i) {
    offered += (i ? ", " : "") + d.profiles[i].substr(0, 64);
  }
  if (d.profiles.size() > 10) offered += fmt::format(" and {} more", d.profiles.size() - 10);
  return fmt::format("ACME_PROFILE={}: the CA offers {} (meta.profiles)", profile, offered);
}

std::string new_order_payload(const std::vector<identifier>& ids, std::string_view profile,
                              std::string_view replaces) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("identifiers");
  w.StartArray();
  for (const auto& id : ids) {
    w.StartObject();
    w.Key("type");
    w.String(id.type.c_str(), static_cast<rapidjson::SizeType>(id.type.size()));
    w.Key("value");
    w.String(id.value.c_str(), static_cast<rapidjson::SizeType>(id.value.size()));
    w.EndObject();
  }
  w.EndArray();
  if (!profile.empty()) {
    w.Key("profile");
    w.String(profile.data(), static_cast<rapidjson::SizeType>(profile.size()));
  }
  if (!replaces.empty()) {
    w.Key("replaces");
    w.String(replaces.data(), static_cast<rapidjson::SizeType>(replaces.size()));
  }
  w.EndObject();
  return buf.GetString();
}

std::string new_account_payload(const std::vector<std::string>& contact, bool only_return_existing,
                                std::string_view eab_jws) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("termsOfServiceAgreed");
  w.Bool(true);
  if (!contact.empty()) {
    w.Key("contact");
    w.StartArray();
    for (const auto& c : contact)
      w.String(c.c_str(), static_cast<rapidjson::SizeType>(c.size()));
    w.EndArray();
  }
  if (only_return_existing) {
    w.Key("onlyReturnExisting");
    w.Bool(true);
  }
  if (!eab_jws.empty()) {
    w.Key("externalAccountBinding");
    w.RawValue(eab_jws.data(), eab_jws.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace certherd::acme

namespace certherd::acme {

std::vector<std::string> link_targets(const std::vector<std::string_view>& link_headers,
                                      std::string_view rel) {
  std::vector<std::string> out;
  for (std::string_view value : link_headers) {
    std::size_t pos = 0;
    while (pos < value.size()) {
      std::size_t open = value.find('<', pos);
      if (open == std::string_view::npos) break;
      std::size_t close = value.find('>', open);
      if (close == std::string_view::npos) break;
      std::string_view target = value.substr(open + 1, close - open - 1);
      // Parameters run to the next link (a comma outside quotes) or the end.
      std::size_t end = close + 1;
      bool quoted = false;
      for (; end < value.size(); ++end) {
        if (value[end] == '"') quoted = !quoted;
        if (value[end] == ',' && !quoted) break;
      }
      std::string_view params = value.substr(close + 1, end - close - 1);
      for (std::size_t p = params.find(';'); p != std::string_view::npos;
           p = params.find(';', p + 1)) {
        std::string_view param = params.substr(p + 1, params.find(';', p + 1) - p - 1);
        while (!param.empty() && param.front() == ' ')
          param.remove_prefix(1);
        if (!param.starts_with("rel=")) continue;
        param.remove_prefix(4);
        while (!param.empty() && (param.back() == ' '))
          param.remove_suffix(1);
        if (param.size() >= 2 && param.front() == '"' && param.back() == '"') {
          param = param.substr(1, param.size() - 2);
        }
        // rel may list several relation types separated by spaces.
        for (std::size_t s = 0; s <= param.size();) {
          std::size_t e = param.find(' ', s);
          if (e == std::string_view::npos) e = param.size();
          if (param.substr(s, e - s) == rel) {
            out.emplace_back(target);
            break;
          }
          s = e + 1;
        }
      }
      pos = end + 1;
    }
  }
  return out;
}

}  // namespace certherd::acme
