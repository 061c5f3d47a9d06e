// The status page of a fleet, in headless Chromium (Debian's), at a desktop and a phone width:
// a running certherd over 300 seeded certificates that need nothing, three seeded ones with five
// days left (RENEW_BEFORE_DAYS=2: expiring, not yet due), three new hosts whose challenge route
// is missing (a private nginx answers 404 for them: failing, each of its own registered domain)
// and three new hosts of one
// registered domain under a budget of one certificate a week (one is issued by a private Pebble,
// two wait). The page must show the failing ones first, then the expiring, then the waiting,
// and count the ready ones without listing them; screenshots are kept as test artifacts.
#include "nginx_process.hpp"
#include "pebble_process.hpp"
#include "seed.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <regex>

using namespace certherd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int count_of(const std::string& status, const char* state) {
  rapidjson::Document d;
  d.Parse(status.c_str());
  if (!d.IsObject() || !d.HasMember("counts")) return -1;
  return d["counts"][state].GetInt();
}

// The data-state of every card, in page order.
std::vector<std::string> card_states(const std::string& dom) {
  std::vector<std::string> out;
  static const std::regex card(
      R"re(<article class="card [a-z]+" data-name="[^"]*" data-state="([a-z]+)")re");
  for (std::sregex_iterator it(dom.begin(), dom.end(), card), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

}  // namespace

TEST(StatusPageFleet, WhatNeedsAttentionComesFirstOnADesktopAndAPhone) {
  temp_dir tmp;
  fs::create_directories(tmp / "webroot");
  nginx_process nginx(tmp / "nginx");
  pebble_process ca({.dir = tmp / "pebble", .authz_reuse_percent = 0, .http_port = nginx.port()});
  std::vector<std::string> waiting{"a.wait-budget.test", "b.wait-budget.test",
                                   "c.wait-budget.test"};
  // Each of its own registered domain: the budget holds back only the wait-budget.test ones.
  std::vector<std::string> failing{"x.no-route-1.test", "y.no-route-2.test", "z.no-route-3.test"};
  nginx.start(
      fmt::format("  server {{ listen 127.0.0.1:@PORT@ default_server; return 404; }}\n"
                  "  server {{ listen 127.0.0.1:@PORT@; server_name {}; root {}; "
                  "location /.well-known/acme-challenge/ {{ default_type text/plain; }} }}\n",
                  fmt::join(waiting, " "), (tmp / "webroot").string()));

  std::vector<seed_item> seeded;
  for (int i = 0; i < 300; ++i)
    seeded.push_back({fmt::format("h{:03}.fleet.test", i), 60 * 24h});
  std::vector<std::string> expiring{"e1.fleet.test", "e2.fleet.test", "e3.fleet.test"};
  for (const auto& e : expiring)
    seeded.push_back({e, 5 * 24h});
  seed_certificates(tmp / "state", tmp / "out", seeded, ca.directory_url(), tmp / "seeded.pem");
  std::ofstream(tmp / "roots.pem") << slurp(tmp / "seeded.pem") << slurp(ca.root_file());
  std::ofstream(tmp / "limits") << "certificates_per_domain 1 7d\n";
  std::string domains;
  for (const auto& s : seeded)
    domains += s.host + ",";
  for (const auto& h : failing)
    domains += h + ",";
  domains += fmt::format("{}", fmt::join(waiting, ","));

  auto port = free_port();
  env_list env{{"DOMAINS", domains},
               {"ACME_DIRECTORY", ca.directory_url()},
               {"ACME_ROOTS", (tmp / "roots.pem").string()},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"WEBROOT", (tmp / "webroot").string()},
               {"SELF_CHECK_ADDRESS", nginx.address()},
               {"RENEW_BEFORE_DAYS", "2"},
               {"RATE_LIMITS", (tmp / "limits").string()},
               {"LISTEN", fmt::format("127.0.0.1:{}", port)},
               {"STATE_DIR", (tmp / "state").string()},
               {"OUTPUT_DIR", (tmp / "out").string()}};
  background_certherd run({"run"}, env, tmp / "run.log");
  std::string status;
  ASSERT_TRUE(eventually(
      [&] {
        try {
          status = loopback_call(port, "GET", "/status").body;
        } catch (const std::exception& e) {
          status = e.what();  // not listening yet
        }
        return count_of(status, "failing") == 3 && count_of(status, "waiting") == 2 &&
               count_of(status, "expiring") == 3 && count_of(status, "ready") == 301;
      },
      90s))
      << status.substr(0, 2000) << run.log();
  EXPECT_EQ(ca.issued(), 1) << "one certificate of the budget's domain, the others wait";

  std::string artifacts = std::string(CERTHERD_ARTIFACT_DIR);
  fs::create_directories(artifacts);
  std::string url = fmt::format("http://127.0.0.1:{}/", port);
  for (auto [label, size] : {std::pair{"desktop", "1280,1000"}, std::pair{"phone", "412,915"}}) {
    std::string flags = fmt::format(
        "--headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir={} "
        "--window-size={}",
        (tmp / fmt::format("chromium-{}", label)).string(), size);
    auto dom_file = tmp / fmt::format("dom-{}.html", label);
    ASSERT_EQ(std::system(fmt::format("chromium {} --dump-dom {} > {} 2>/dev/null", flags, url,
                                      dom_file.string())
                              .c_str()),
              0);
    std::string dom = slurp(dom_file);
    // The failing first, then the expiring, then the waiting; no ready card on the first page.
    std::vector<std::string> want{"failing",  "failing",  "failing", "expiring",
                                  "expiring", "expiring", "waiting", "waiting"};
    EXPECT_EQ(card_states(dom), want) << label;
    for (const auto& h : failing)
      EXPECT_NE(dom.find(fmt::format("data-name=\"{}\"", h)), std::string::npos) << label;
    for (const auto& e : expiring)
      EXPECT_NE(dom.find(fmt::format("data-name=\"{}\"", e)), std::string::npos) << label;
    EXPECT_NE(dom.find("8 need attention"), std::string::npos) << label;
    EXPECT_NE(dom.find("301 ready certificates"), std::string::npos) << label;
    // Why: the failing cards count their failures, the waiting ones name their budget.
    EXPECT_NE(dom.find(" in a row"), std::string::npos) << label;
    EXPECT_NE(dom.find("waiting for the"), std::string::npos) << label;
    std::string shot = fmt::format("{}/status-fleet-{}.png", artifacts, label);
    fs::remove(shot);
    ASSERT_EQ(
        std::system(fmt::format("chromium {} --screenshot={} {} > /dev/null 2>&1", flags, shot, url)
                        .c_str()),
        0);
    ASSERT_TRUE(fs::exists(shot));
    EXPECT_GT(fs::file_size(shot), 10000u) << "a rendered page, not a blank one";
    std::cout << "fleet status page (" << label << "): " << shot << "\n";
  }
  // The ready ones, a page of 100 at a time; the default page stays small.
  auto ready = loopback_call(port, "GET", "/?state=ready");
  EXPECT_EQ(card_states(ready.body).size(), 100u);
  EXPECT_NE(ready.body.find("page 1 of 4"), std::string::npos);
  EXPECT_LT(loopback_call(port, "GET", "/").body.size(), 60'000u);
  // `certherd status`: the summary by state, then the eight that need attention, in order.
  background_certherd asked({"status", "--listen", fmt::format("127.0.0.1:{}", port)}, {},
                            tmp / "status.log");
  EXPECT_EQ(asked.wait(30s), 1) << "not every certificate is ready: " << asked.log();
  std::string out = asked.log();
  EXPECT_NE(out.find("309 certificates: 3 expiring, 3 failing, 301 ready, 2 waiting"),
            std::string::npos)
      << out;
  EXPECT_LT(out.find("x.no-route-1.test"), out.find("e1.fleet.test")) << out;
  EXPECT_LT(out.find("e3.fleet.test"), out.find("wait-budget.test")) << out;
  EXPECT_EQ(out.find("h000.fleet.test"), std::string::npos) << out;
  EXPECT_NE(out.find("301 ready certificates not listed (--all lists them)"), std::string::npos);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}
