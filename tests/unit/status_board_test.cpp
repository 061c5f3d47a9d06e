// The status board (controller/status_board): what /status and /metrics say of a failing
// certificate. The kind of its last failure is the metric's reason label — a bounded set of
// values (design/0004-errors.md) — while the words, URLs and all, stay on /status.
#include "controller/status_board.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <variant>

namespace certherd::controller {
namespace {

using namespace std::chrono_literals;

struct board_fixture {
  status_board board{reconcilers::renewal_policy{}};
  std::map<std::string, reconcilers::cert_spec> desired;
  reconcilers::observation_cache held;
  reconcilers::sys_seconds now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  board_fixture() {
    reconcilers::cert_spec spec;
    spec.name = "a.example.com";
    spec.hosts = {"a.example.com"};
    desired[spec.name] = spec;
    reconcilers::local_copy l;
    l.failures = 2;
    l.last_error =
        "urn:ietf:params:acme:error:rateLimited: too many certificates, see "
        "https://letsencrypt.org/docs/rate-limits/";
    l.last_error_kind = failure_kind::rate_limited;
    held.entries[spec.name] = {stores::file_stamp{1, 1, 1}, l};
    reconcilers::reconcile_report r;
    r.failed = true;
    r.failed_kind = failure_kind::rate_limited;
    board.desired(desired, held, now);
    board.reconciled(spec, r, held, now);
  }
};

TEST(StatusBoard, FailureReasonLabelIsTheKind) {
  board_fixture f;
  auto metrics = f.board.to_prometheus({}, f.now);
  EXPECT_NE(
      metrics.find(
          R"(certherd_certificate_last_failure_info{name="a.example.com",reason="rate_limited"} 1)"),
      std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("https://"), std::string::npos) << "a URL in a label: " << metrics;
  EXPECT_NE(metrics.find(R"(certherd_certificate_failures{name="a.example.com"} 2)"),
            std::string::npos);
}

TEST(StatusBoard, StatusShowsFailuresWithTheirKindAndWords) {
  board_fixture f;
  rapidjson::Document doc;
  doc.Parse(f.board.to_json({}, f.now).c_str());
  ASSERT_TRUE(doc.IsObject());
  const auto& c = doc["certificates"][0];
  EXPECT_EQ(c["failures"].GetInt(), 2);
  EXPECT_EQ(std::string(c["last_error_kind"].GetString()), "rate_limited");
  EXPECT_NE(std::string(c["last_error"].GetString()).find("rate-limits"), std::string::npos);
  // The CA's rate limit is a wait for its Retry-After, not a failure of the certificate's.
  EXPECT_EQ(std::string(c["state"].GetString()), "waiting");
  EXPECT_EQ(doc["counts"]["waiting"].GetInt(), 1);
}

TEST(StatusBoard, AFailureOnlyTheLastReconcileSawIsLabelledToo) {
  board_fixture f;
  f.held.entries["a.example.com"].local = {};  // nothing in the store: a push failed
  reconcilers::cert_spec spec = f.desired["a.example.com"];
  reconcilers::reconcile_report r;
  r.failed = true;
  r.failed_kind = failure_kind::target_refused;
  f.board.reconciled(spec, r, f.held, f.now);
  auto metrics = f.board.to_prometheus({}, f.now);
  EXPECT_NE(metrics.find(R"(reason="target_refused")"), std::string::npos) << metrics;
}

// A reconcile that ends after its certificate stopped being desired leaves nothing behind: the
// certificate, desired again, starts from nothing; and a reconcile started before a change of
// its sources does not put the old sources back.
TEST(StatusBoard, ALateReconcileNeitherRevivesNorRewrites) {
  board_fixture f;
  reconcilers::cert_spec spec = f.desired["a.example.com"];
  reconcilers::reconcile_report failed;
  failed.failed = true;
  failed.failed_kind = failure_kind::validation;
  f.held.entries.clear();
  f.board.desired({}, f.held, f.now);
  f.board.reconciled(spec, failed, f.held, f.now);  // late
  EXPECT_FALSE(f.board.certificate_json("a.example.com", f.now));
  f.board.desired(f.desired, f.held, f.now);
  ASSERT_NE(f.board.view().find("a.example.com"), nullptr);
  EXPECT_EQ(f.board.view().find("a.example.com")->verdict.state, cert_state::pending);
  EXPECT_FALSE(f.board.all_seen(f.desired));

  auto moved = f.desired;
  moved["a.example.com"].sources = {"service shop/web (1s5)"};
  f.board.desired(moved, f.held, f.now);
  f.board.reconciled(spec, {}, f.held, f.now);  // started with the old sources
  EXPECT_EQ(f.board.view().find("a.example.com")->facts.sources, moved["a.example.com"].sources);
}

// A fleet: 300 ready certificates, two failing, one expiring, one waiting for a budget.
struct fleet_fixture {
  status_board board{reconcilers::renewal_policy{}};
  std::map<std::string, reconcilers::cert_spec> desired;
  reconcilers::observation_cache held;
  reconcilers::sys_seconds now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  static std::string name(int i) { return fmt::format("host{:03}.example.com", i); }

  fleet_fixture() {
    for (int i = 0; i < 304; ++i) {
      reconcilers::cert_spec spec;
      spec.name = name(i);
      spec.hosts = {spec.name};
      spec.sources = {i == 5 ? "service shop/web (1s5)" : "DOMAINS"};
      desired[spec.name] = spec;
      reconcilers::local_copy l;
      l.present = true;
      l.not_before = now - 10 * 24h;
      l.not_after = now + 80 * 24h;
      l.fingerprint = fmt::format("{:064x}", i);
      if (i == 300 || i == 301) {
        l.failures = 3;
        l.last_error = "urn:ietf:params:acme:error:connection: <b>refused</b>";
        l.last_error_kind = failure_kind::validation;
        l.next_retry = now + 1h;
      }
      if (i == 302) l.not_after = now + 3 * 24h;
      held.entries[spec.name] = {stores::file_stamp{1, 1, 1}, l};
    }
    board.desired(desired, held, now);
    for (const auto& [n, spec] : desired) {
      reconcilers::reconcile_report r;
      r.failed = n == name(300) || n == name(301);
      if (n == name(303)) {
        r.decision.held_back =
            reconcilers::order_hold{now + 2h, "waiting for the example.com budget"};
        r.decision.reason = "renewal due; waiting for the example.com budget";
      }
      board.reconciled(spec, r, held, now);
    }
  }
  std::string page(std::string_view query) {
    auto q = parse_status_query(query);
    return board.to_html({}, now, std::get<status_query>(q));
  }
};

TEST(StatusPage, ShowsWhatNeedsAttentionFirstAndCountsTheRest) {
  fleet_fixture f;
  std::string html = f.page("");
  auto at = [&html](const std::string& n) { return html.find("data-name=\"" + n + "\""); };
  // Failing, then expiring, then waiting; the ready ones are counted, not listed.
  ASSERT_NE(at(f.name(300)), std::string::npos) << html;
  EXPECT_LT(at(f.name(300)), at(f.name(301)));
  EXPECT_LT(at(f.name(301)), at(f.name(302)));
  EXPECT_LT(at(f.name(302)), at(f.name(303)));
  EXPECT_EQ(at(f.name(0)), std::string::npos);
  EXPECT_NE(html.find("300 ready certificates"), std::string::npos);
  EXPECT_NE(html.find("4 need attention"), std::string::npos);
  // Why it fails: the kind, the count, the next try; the CA's words escaped.
  EXPECT_NE(html.find("<strong>validation</strong> · 3 failures in a row · next try"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;refused&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>refused"), std::string::npos);
  EXPECT_NE(html.find("waiting for the example.com budget"), std::string::npos);
  EXPECT_LT(html.size(), 40'000u);
}

TEST(StatusPage, FiltersByStateAndTextAndPagesWithLinks) {
  fleet_fixture f;
  std::string ready = f.page("state=ready");
  EXPECT_NE(ready.find("300 certificates ready"), std::string::npos);
  EXPECT_NE(ready.find("data-name=\"host000.example.com\""), std::string::npos);
  EXPECT_EQ(ready.find("data-name=\"host100.example.com\""), std::string::npos);
  EXPECT_NE(ready.find("page 1 of 3"), std::string::npos);
  EXPECT_NE(ready.find("href=\"?state=ready&amp;page=2\""), std::string::npos) << ready;
  std::string third = f.page("state=ready&page=3");
  EXPECT_NE(third.find("data-name=\"host299.example.com\""), std::string::npos);
  EXPECT_NE(third.find("rel=\"prev\" href=\"?state=ready&amp;page=2\""), std::string::npos);
  // A service's name finds its certificate; the text stays in the form, escaped.
  std::string shop = f.page("q=shop%2Fweb");
  EXPECT_NE(shop.find("1 certificate matching “shop/web”"), std::string::npos) << shop;
  EXPECT_NE(shop.find("data-name=\"host005.example.com\""), std::string::npos);
  std::string hostile = f.page("q=%3Cscript%3E");
  EXPECT_EQ(hostile.find("<script>"), std::string::npos);
  EXPECT_NE(hostile.find("value=\"&lt;script&gt;\""), std::string::npos);
}

TEST(StatusPage, QueriesAreCheckedAndNamed) {
  auto ok = parse_status_query("state=failing&q=a+b%2F&page=2&other=1");
  ASSERT_TRUE(std::holds_alternative<status_query>(ok));
  const auto& q = std::get<status_query>(ok);
  EXPECT_EQ(q.state, cert_state::failing);
  EXPECT_EQ(q.text, "a b/");
  EXPECT_EQ(q.page, 2u);
  EXPECT_FALSE(std::get<status_query>(parse_status_query("")).filtered());
  EXPECT_FALSE(std::get<status_query>(parse_status_query("state=&q=")).filtered());
  for (const char* bad : {"state=Failing", "page=0", "page=x", "page=2x", "q=%zz", "q=%4"}) {
    auto r = parse_status_query(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
    std::string key(bad);
    key = key.substr(0, key.find('='));
    EXPECT_EQ(std::get<std::string>(r).substr(0, key.size() + 1), key + ":") << bad;
  }
  EXPECT_TRUE(
      std::holds_alternative<std::string>(parse_status_query("q=" + std::string(201, 'a'))));
}

TEST(StatusJson, FiltersOneCertificateAndRemovals) {
  fleet_fixture f;
  rapidjson::Document all;
  all.Parse(f.board.to_json({}, f.now).c_str());
  ASSERT_TRUE(all.IsObject());
  ASSERT_EQ(all["certificates"].Size(), 304u);
  EXPECT_STREQ(all["certificates"][0]["state"].GetString(), "failing");
  EXPECT_EQ(all["counts"]["ready"].GetInt(), 300);
  EXPECT_EQ(all["counts"]["expiring"].GetInt(), 1);
  status_query q;
  q.state = cert_state::waiting;
  rapidjson::Document waiting;
  waiting.Parse(f.board.to_json({}, f.now, &q).c_str());
  ASSERT_TRUE(waiting.IsObject());
  ASSERT_EQ(waiting["certificates"].Size(), 1u);
  EXPECT_EQ(waiting["matching"].GetInt(), 1);
  EXPECT_STREQ(waiting["certificates"][0]["waiting_reason"].GetString(),
               "waiting for the example.com budget");

  auto one = f.board.certificate_json(f.name(300), f.now);
  ASSERT_TRUE(one);
  rapidjson::Document d;
  d.Parse(one->c_str());
  ASSERT_TRUE(d.IsObject()) << *one;
  EXPECT_STREQ(d["certificate"]["state"].GetString(), "failing");
  EXPECT_EQ(d["decisions"].Size(), 1u);
  EXPECT_FALSE(f.board.certificate_json("nothing.example.com", f.now));

  // No longer desired: gone from /status and /metrics (no stale series).
  f.desired.erase(f.name(300));
  f.board.desired(f.desired, f.held, f.now);
  EXPECT_FALSE(f.board.certificate_json(f.name(300), f.now));
  EXPECT_EQ(f.board.to_prometheus({}, f.now).find(f.name(300)), std::string::npos);
  EXPECT_EQ(f.board.view().count(cert_state::failing), 1u);
}

TEST(StatusMetrics, EveryCertificateHasItsSeriesAndCountsByState) {
  fleet_fixture f;
  std::string m = f.board.to_prometheus({}, f.now);
  EXPECT_NE(
      m.find(fmt::format(
          "certherd_certificate_expiration_timestamp_seconds{{name=\"host000.example.com\"}} {}\n",
          (f.now + 80 * 24h).time_since_epoch().count())),
      std::string::npos);
  EXPECT_NE(
      m.find(
          "certherd_certificate_ready_status{condition=\"False\",name=\"host300.example.com\"} 1"),
      std::string::npos);
  EXPECT_NE(m.find("certherd_certificates{state=\"failing\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("certherd_certificates{state=\"ready\"} 300"), std::string::npos);
  // One HELP per family, its lines together.
  auto first = m.find("# HELP certherd_certificate_failures ");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(m.find("# HELP certherd_certificate_failures ", first + 1), std::string::npos);
  // expiry, renewal, ready (two), failures, store failures each; the two failing a reason too.
  EXPECT_GE(std::count(m.begin(), m.end(), '\n'), 304 * 6 + 2);
}

TEST(StatusMetrics, LabelValuesAreEscaped) {
  status_board board{reconcilers::renewal_policy{}};
  reconcilers::cert_spec spec;
  spec.name = "odd\"name\\with\nall";
  spec.hosts = {"a.example.com"};
  reconcilers::observation_cache held;
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  board.desired({{spec.name, spec}}, held, now);
  std::string m = board.to_prometheus({}, now);
  EXPECT_NE(m.find(R"(certherd_certificate_failures{name="odd\"name\\with\nall"} 0)"),
            std::string::npos)
      << m;
}

TEST(StatusBoard, RejectedInputsAreListedBoundedAndEscaped) {
  fleet_fixture f;
  std::vector<rejected_input> items;
  for (int i = 0; i < 1500; ++i)
    items.push_back({"label on service web (1s5)", fmt::format("<i>{}</i>", i), "not a host"});
  f.board.rejected("labels", std::move(items));
  f.board.rejected("DOMAINS", {{"DOMAINS", "*.example.com", "a wildcard"}});
  std::string html = f.page("");
  EXPECT_NE(html.find("1501 rejected inputs"), std::string::npos);
  EXPECT_NE(html.find("<td>*.example.com</td><td>a wildcard</td>"), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;0&lt;/i&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<i>0</i>"), std::string::npos);
  EXPECT_NE(html.find("and 1401 more"), std::string::npos);
  rapidjson::Document d;
  d.Parse(f.board.to_json({}, f.now).c_str());
  EXPECT_EQ(d["rejected"].Size(), 1001u);
  EXPECT_EQ(d["rejected_total"].GetInt(), 1501);
  f.board.rejected("labels", {});  // mended
  html = f.page("");
  EXPECT_NE(html.find(">1 rejected input<"), std::string::npos);
  EXPECT_EQ(html.find("&lt;i&gt;"), std::string::npos);
  f.board.rejected("DOMAINS", {});
  EXPECT_EQ(f.page("").find("rejected input"), std::string::npos);
}

}  // namespace
}  // namespace certherd::controller
