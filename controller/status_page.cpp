// The status page (GET /): the facts of /status laid out for people — one card per certificate
// with its state, hosts, where they came from, classification, expiry, next renewal and last
// error, then the reconciler's latest decisions with their reasons. Rendered on the server from
// the same JSON /status serves (one source of truth), every string HTML-escaped, no script, a
// meta refresh every 15 s, and a layout that reflows to one column on a phone.
#include "controller/status_board.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace certherd::controller {
namespace {

using json = rapidjson::Value;

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string text(const json& o, const char* k) {
  auto it = o.FindMember(k);
  if (it == o.MemberEnd()) return {};
  if (it->value.IsString()) return it->value.GetString();
  if (it->value.IsInt64()) return std::to_string(it->value.GetInt64());
  if (it->value.IsBool()) return it->value.GetBool() ? "yes" : "no";
  return {};
}

std::string list(const json& o, const char* k) {
  std::string out;
  auto it = o.FindMember(k);
  if (it == o.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) continue;
    if (!out.empty()) out += ", ";
    out += v.GetString();
  }
  return out;
}

std::string when(const json& o, const char* k) {
  std::string t = text(o, k);
  return t.empty() ? "—" : t.substr(0, 10) + " " + t.substr(11, 8) + " UTC";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 16px}header h1{font-size:1.2rem;margin:0}
header p{margin:4px 0 0;font-size:.85rem;opacity:.85}
main{padding:12px;max-width:1100px;margin:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);border-left:6px solid #999;overflow-wrap:anywhere}
.card.ready{border-color:#1a7f37}.card.failing{border-color:#cf222e}.card.pending{border-color:#bf8700}
.card h2{font-size:1rem;margin:0 0 6px}.badge{font-size:.75rem;padding:2px 6px;border-radius:10px;background:#eee;margin-left:6px}
.ready .badge{background:#dafbe1}.failing .badge{background:#ffebe9}.pending .badge{background:#fff8c5}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0;font-size:.85rem}dt{color:#57606a}dd{margin:0}
.error{color:#cf222e}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.85rem}td,th{padding:6px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
@media(max-width:600px){th:nth-child(3),td:nth-child(3){display:none}}
)";

}  // namespace

std::string status_board::to_html(const std::map<std::string, reconcilers::cert_spec>& desired,
                                  const reconcilers::observation_cache& held,
                                  const live_figures& live, reconcilers::sys_seconds now) const {
  rapidjson::Document doc;
  std::string source = to_json(desired, held, live, now);
  doc.Parse(source.c_str());
  std::string out = fmt::format(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta http-equiv=\"refresh\" content=\"15\"><title>certherd status</title>"
      "<style>{}</style></head><body>",
      kStyle);
  int ready = 0, failing = 0;
  for (const auto& c : doc["certificates"].GetArray()) {
    ready += text(c, "state") == "ready";
    failing += text(c, "state") == "failing";
  }
  std::string rancher = "not configured";
  if (doc["rancher"].IsObject()) {
    rancher = fmt::format("{} · {} events · {} full lists", text(doc["rancher"], "state"),
                          text(doc["rancher"], "events"), text(doc["rancher"], "resyncs"));
  }
  out += fmt::format(
      "<header><h1>certherd</h1><p id=\"summary\">{} certificates · {} ready · {} failing · "
      "Rancher: {} · updated {}</p></header><main>",
      doc["certificates"].Size(), ready, failing, esc(rancher), esc(when(doc, "now")));
  out += "<section class=\"cards\">";
  for (const auto& c : doc["certificates"].GetArray()) {
    std::string state = text(c, "state");
    out += fmt::format(
        "<article class=\"card {0}\" data-name=\"{1}\"><h2>{1}<span "
        "class=\"badge\">{0}</span></h2><dl>",
        esc(state), esc(text(c, "name")));
    auto row = [&](const char* label, const std::string& value, bool error = false) {
      out += fmt::format("<dt>{}</dt><dd{}>{}</dd>", label, error ? " class=\"error\"" : "",
                         esc(value.empty() ? "—" : value));
    };
    row("hosts", list(c, "hosts"));
    row("wanted by", list(c, "sources"));
    row("served by", list(c, "targets"));
    row("issuer", text(c, "classification"));
    row("expires", when(c, "not_after"));
    row("renewal", when(c, "renewal_at"));
    row("renewal rule", text(c, "renewal_rule"));
    row("next look", when(c, "next_look"));
    if (text(c, "failures") != "0") row("failures", text(c, "failures"), true);
    if (!text(c, "last_error_kind").empty()) row("failing with", text(c, "last_error_kind"), true);
    if (!text(c, "last_error").empty()) row("last error", text(c, "last_error"), true);
    if (c["last_decision"].IsObject()) row("last decision", text(c["last_decision"], "reason"));
    out += "</dl></article>";
  }
  out +=
      "</section><h2>Latest decisions</h2><table><thead><tr><th>when</th><th>certificate"
      "</th><th>actions</th><th>why</th></tr></thead><tbody>";
  for (const auto& d : doc["recent_decisions"].GetArray()) {
    std::string why = text(d, "reason");
    std::string outcomes = list(d, "outcomes");
    if (!outcomes.empty()) why += " → " + outcomes;
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
                       esc(when(d, "at")), esc(text(d, "name")), esc(text(d, "actions")),
                       text(d, "failed") == "yes" ? " class=\"error\"" : "", esc(why));
  }
  out += "</tbody></table></main></body></html>\n";
  return out;
}

}  // namespace certherd::controller
