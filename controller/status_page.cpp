// The status page (GET /) for a fleet: counts by state (each a link to its filter), a search
// form, the certificates that need attention first (failing, expiring, waiting, conflict,
// pending; 100 cards a page), the ready ones collapsed into a count, the inputs the sources
// rejected, and the latest decisions. Filters are links and a GET form (`?state=`, `?q=`,
// `&page=`): no script. Cards are rendered when their certificate changes (status_card, called by
// the status board) and put together per request. Every string is HTML-escaped, the page
// refreshes itself every 15 s, and the layout reflows to one column on a phone.
#include "controller/status_page.hpp"

#include "clients/http/url.hpp"
#include "controller/status_board.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>

namespace certherd::controller {
namespace {

constexpr std::size_t kPerPage = 100;
constexpr std::size_t kDecisionsShown = 20;
constexpr std::size_t kRejectedShown = 100;

std::string when(std::optional<sys_seconds> t) {
  if (!t || t->time_since_epoch().count() <= 0) return "—";
  std::string s = pki::to_rfc3339(*t);
  return s.size() >= 19 ? s.substr(0, 10) + " " + s.substr(11, 8) + " UTC" : s;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string href(std::optional<cert_state> state, std::string_view text, std::size_t page) {
  std::string q;
  auto add = [&q](std::string_view k, std::string_view v) {
    q += (q.empty() ? "?" : "&amp;") + std::string(k) + "=" + http::percent_encode(v);
  };
  if (state) add("state", to_string(*state));
  if (!text.empty()) add("q", text);
  if (page > 1) add("page", std::to_string(page));
  return q.empty() ? "./" : q;
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 16px}header h1{font-size:1.2rem;margin:0}
header p{margin:4px 0 0;font-size:.85rem;opacity:.85}
main{padding:12px;max-width:1100px;margin:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 3px rgba(0,0,0,.12);border-left:6px solid #999;overflow-wrap:anywhere}
.card.ready{border-color:#1a7f37}.card.failing{border-color:#cf222e}.card.pending{border-color:#8c959f}
.card.expiring{border-color:#d1242f}.card.waiting{border-color:#bf8700}.card.conflict{border-color:#8250df}
.card h2{font-size:1rem;margin:0 0 6px}.badge{font-size:.75rem;padding:2px 6px;border-radius:10px;background:#eee;margin-left:6px}
.ready .badge{background:#dafbe1}.failing .badge,.expiring .badge{background:#ffebe9}.waiting .badge{background:#fff8c5}.conflict .badge{background:#fbefff}
.why{margin:0 0 8px;font-size:.9rem}.why strong{color:#cf222e}.waiting .why strong,.pending .why strong{color:#9a6700}.conflict .why strong{color:#8250df}
nav.counts{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 10px}nav.counts a{padding:4px 10px;border-radius:14px;background:#fff;color:#1d2330;text-decoration:none;box-shadow:0 1px 2px rgba(0,0,0,.12);font-size:.9rem}
nav.counts a[aria-current]{outline:2px solid #1d2330}nav.counts .failing,nav.counts .expiring{color:#cf222e}nav.counts .waiting{color:#9a6700}
form.find{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}form.find input{flex:1;min-width:10em;padding:6px}form.find select,form.find button{padding:6px}
.pages{margin:12px 0;display:flex;gap:12px;align-items:center}details.healthy{margin:12px 0;background:#fff;padding:10px;border-radius:8px}
h2.section{font-size:1.05rem;margin:16px 0 8px}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0;font-size:.85rem}dt{color:#57606a}dd{margin:0}
.error{color:#cf222e}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.85rem}td,th{padding:6px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
@media(max-width:600px){th:nth-child(3),td:nth-child(3){display:none}}
)";

}  // namespace

std::string html_escape(std::string_view s) {
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

std::string status_card(const fleet_row& row, sys_seconds now) {
  const cert_facts& f = row.facts;
  std::string_view state = to_string(row.verdict.state);
  std::string out = fmt::format(
      "<article class=\"card {0}\" data-name=\"{1}\" data-state=\"{0}\"><h2>{1}<span "
      "class=\"badge\">{0}</span></h2>",
      state, html_escape(f.name));
  // Why it needs attention, first.
  std::string why;
  switch (row.verdict.state) {
    case cert_state::failing:
      if (f.store_failures > 0) {
        why = fmt::format("<strong>its record is not saved</strong> ({} tries): {}; next try {}",
                          f.store_failures, html_escape(f.store_error), when(f.store_retry_at));
      } else {
        why = fmt::format("<strong>{}</strong>", f.last_error_kind
                                                     ? html_escape(to_string(*f.last_error_kind))
                                                     : std::string("failed"));
        if (f.failures > 0)
          why += fmt::format(" · {} failure{} in a row", f.failures, f.failures == 1 ? "" : "s");
        if (f.next_try) why += " · next try " + when(f.next_try);
        if (!f.last_error.empty()) why += "<br>" + html_escape(f.last_error);
      }
      why += f.held && now < f.not_after
                 ? fmt::format("<br>The held certificate serves until {}.", when(f.not_after))
                 : std::string("<br>No valid certificate is held.");
      break;
    case cert_state::expiring:
      why = now < f.not_after ? fmt::format("<strong>expires {}</strong>", when(f.not_after))
                              : fmt::format("<strong>expired {}</strong>", when(f.not_after));
      if (f.renewal_at) why += " · renewal " + when(f.renewal_at);
      break;
    case cert_state::waiting:
      if (f.waiting_until && *f.waiting_until > now) {
        why = fmt::format("<strong>waiting until {}</strong>: {}", when(f.waiting_until),
                          html_escape(f.waiting_reason));
      } else {
        why = fmt::format("<strong>rate-limited by the CA</strong> · next try {}<br>{}",
                          when(f.next_try), html_escape(f.last_error));
      }
      break;
    case cert_state::conflict:
      why = "<strong>left alone</strong>: " + html_escape(f.conflict);
      break;
    case cert_state::pending:
      why = f.reconciled ? "being ordered" : "not looked at yet";
      break;
    case cert_state::ready:
      break;
  }
  if (!why.empty()) out += "<p class=\"why\">" + why + "</p>";
  out += "<dl>";
  auto item = [&out](const char* label, const std::string& value) {
    out += fmt::format("<dt>{}</dt><dd>{}</dd>", label,
                       value.empty() ? std::string("—") : html_escape(value));
  };
  item("hosts", joined(f.hosts));
  item("wanted by", joined(f.sources));
  item("served by", joined(f.targets));
  item("issuer", f.classification);
  item("expires", f.held ? when(f.not_after) : std::string());
  item("renewal", f.renewal_at ? when(f.renewal_at) : std::string());
  item("renewal rule", f.renewal_rule);
  item("next look", f.next_look ? when(f.next_look) : std::string());
  out += "</dl></article>";
  return out;
}

std::string status_board::to_html(const live_figures& live, sys_seconds now,
                                  const status_query& query) {
  view_.advance(now);
  std::string out = fmt::format(
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<meta http-equiv=\"refresh\" content=\"15\"><title>certherd status</title>"
      "<style>{}</style></head><body>",
      kStyle);
  std::string rancher = "not configured";
  if (live.rancher_configured) {
    rancher = fmt::format("{} · {} events · {} full lists", live.rancher_state, live.rancher_events,
                          live.rancher_resyncs);
  }
  std::string store;
  if (live.etcd) {
    store = fmt::format(" · etcd: {}", live.etcd->leader ? "leader" : "follower");
  }
  std::size_t attention = view_.size() - view_.count(cert_state::ready);
  out += fmt::format(
      "<header><h1>certherd</h1><p id=\"summary\">{} certificates · {} need attention · {} "
      "ready · Rancher: {}{} · updated {}</p></header><main>",
      view_.size(), attention, view_.count(cert_state::ready), html_escape(rancher),
      html_escape(store), when(now));
  // Counts by state, each a link to its filter.
  out += "<nav class=\"counts\" aria-label=\"by state\">";
  out +=
      fmt::format("<a href=\"./\"{}>all {}</a>",
                  !query.state && query.text.empty() ? " aria-current=\"page\"" : "", view_.size());
  for (auto s : kCertStates) {
    out += fmt::format("<a class=\"{0}\" href=\"{1}\"{2}>{3} {0}</a>", to_string(s), href(s, {}, 1),
                       query.state == s ? " aria-current=\"page\"" : "", view_.count(s));
  }
  out += "</nav>";
  out += fmt::format(
      "<form class=\"find\" method=\"get\" action=\"./\"><input type=\"search\" "
      "name=\"q\" value=\"{}\" placeholder=\"name, host or service\" aria-label=\"find\">"
      "<select name=\"state\" aria-label=\"state\"><option value=\"\">any state</option>",
      html_escape(query.text));
  for (auto s : kCertStates) {
    out += fmt::format("<option{}>{}</option>", query.state == s ? " selected" : "", to_string(s));
  }
  out += "</select><button>Find</button></form>";

  fleet_view::query q;
  q.state = query.state;
  q.text = query.text;
  q.page = query.page;
  q.per_page = kPerPage;
  const bool everything = !query.state && query.text.empty();
  q.attention = everything;  // the default: what needs attention; the ready ones are counted
  auto sel = view_.select(q);
  if (everything) {
    out += sel.matching == 0 ? "<h2 class=\"section\">Nothing needs attention</h2>"
                             : fmt::format("<h2 class=\"section\">{} need{} attention</h2>",
                                           sel.matching, sel.matching == 1 ? "s" : "");
  } else {
    out += fmt::format(
        "<h2 class=\"section\">{} certificate{}{}{}</h2>", sel.matching,
        sel.matching == 1 ? "" : "s",
        query.state ? fmt::format(" {}", to_string(*query.state)) : "",
        query.text.empty() ? "" : fmt::format(" matching “{}”", html_escape(query.text)));
  }
  out += "<section class=\"cards\">";
  for (const fleet_row* row : sel.rows)
    out += row->card;
  out += "</section>";
  if (sel.pages > 1) {
    out += fmt::format("<p class=\"pages\">page {} of {}", sel.page, sel.pages);
    std::optional<cert_state> keep = query.state;
    if (sel.page > 1)
      out += fmt::format(" <a rel=\"prev\" href=\"{}\">previous</a>",
                         href(keep, query.text, sel.page - 1));
    if (sel.page < sel.pages)
      out += fmt::format(" <a rel=\"next\" href=\"{}\">next</a>",
                         href(keep, query.text, sel.page + 1));
    out += "</p>";
  }
  if (everything) {
    out += fmt::format(
        "<details class=\"healthy\"><summary>{0} ready certificate{1}</summary><p>Listed by "
        "name at <a href=\"{2}\">state=ready</a>, 100 a page; find one with the form "
        "above.</p></details>",
        view_.count(cert_state::ready), view_.count(cert_state::ready) == 1 ? "" : "s",
        href(cert_state::ready, {}, 1));
  }
  // What the sources skipped, with why (tenants' labels among them: escaped like the rest).
  std::size_t rejected = 0;
  for (const auto& [source, list] : rejected_)
    rejected += list.total;
  if (rejected > 0) {
    out += fmt::format(
        "<h2 class=\"section\" id=\"rejected\">{} rejected input{}</h2><table><thead><tr>"
        "<th>from</th><th>item</th><th>why</th></tr></thead><tbody>",
        rejected, rejected == 1 ? "" : "s");
    std::size_t shown = 0;
    for (const auto& [source, list] : rejected_) {
      for (const auto& r : list.items) {
        if (shown == kRejectedShown) break;
        ++shown;
        out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", html_escape(r.source),
                           html_escape(r.item), html_escape(r.reason));
      }
    }
    out += "</tbody></table>";
    if (rejected > shown)
      out += fmt::format("<p>… and {} more (the first 1,000 of each source are on /status).</p>",
                         rejected - shown);
  }
  out +=
      "<h2 class=\"section\">Latest decisions</h2><table><thead><tr><th>when</th>"
      "<th>certificate</th><th>actions</th><th>why</th></tr></thead><tbody>";
  std::size_t shown = 0;
  for (const auto& d : recent_) {
    if (shown++ == kDecisionsShown) break;
    std::string why = d.reason;
    std::string outcomes = joined(d.outcomes);
    if (!outcomes.empty()) why += " → " + outcomes;
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>", when(d.at),
                       html_escape(d.name), html_escape(d.actions),
                       d.failed ? " class=\"error\"" : "", html_escape(why));
  }
  out += "</tbody></table></main></body></html>\n";
  return out;
}

}  // namespace certherd::controller
