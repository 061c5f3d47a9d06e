// Issue 13 §1, the alert rules against a real Prometheus (Debian's prometheus, started here on
// loopback) scraping a running certherd that issues from a private Pebble (Debian's), which
// validates on a private nginx: the scrape is healthy, the expiry Prometheus holds for a
// certificate is its notAfter, the not-ready alert fires while a certificate's challenge cannot
// be served and resolves once it can, and `promtool check metrics` finds nothing to fix in the
// exposition. The rules are deploy/prometheus/certherd-alerts.yml as shipped, with every `for:`
// shortened to 3 s (their thresholds are proven by promtool's unit tests,
// tests/prometheus/certherd-alerts.test.yml).
#include "clients/http/url.hpp"
#include "nginx_process.hpp"
#include "pebble_process.hpp"
#include "pki/certificate.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sys/wait.h>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A private Prometheus: scrapes certherd every second and evaluates `rules` every second.
class prometheus_process {
 public:
  prometheus_process(const fs::path& dir, unsigned short target, const fs::path& rules)
      : port_(free_port()) {
    fs::create_directories(dir / "data");
    std::ofstream(dir / "prometheus.yml") << fmt::format(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files:\n  - {}\n"
        "scrape_configs:\n  - job_name: certherd\n    static_configs:\n"
        "      - targets: ['127.0.0.1:{}']\n",
        rules.string(), target);
    pid_ =
        spawn_logged({"/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
                      "--storage.tsdb.path=" + (dir / "data").string(),
                      fmt::format("--web.listen-address=127.0.0.1:{}", port_)},
                     dir / "prometheus.log");
    bool up = eventually(
        [&] {
          try {
            return loopback_call(port_, "GET", "/-/ready").status == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        60s);
    if (!up) throw std::runtime_error("prometheus did not start: " + slurp(dir / "prometheus.log"));
  }
  ~prometheus_process() { stop_child(pid_); }

  /// The result vector of an instant query (empty on any error).
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> query(
      const std::string& promql) const {
    std::vector<std::pair<std::map<std::string, std::string>, std::string>> out;
    auto reply = loopback_call(port_, "GET", "/api/v1/query?query=" + http::percent_encode(promql));
    rapidjson::Document doc;
    doc.Parse(reply.body.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("data")) return out;
    const auto& result = doc["data"]["result"];
    if (!result.IsArray()) return out;
    for (const auto& r : result.GetArray()) {
      std::map<std::string, std::string> labels;
      for (const auto& m : r["metric"].GetObject())
        labels[m.name.GetString()] = m.value.GetString();
      out.emplace_back(std::move(labels), r["value"][1].GetString());
    }
    return out;
  }

 private:
  unsigned short port_;
  pid_t pid_ = -1;
};

std::string run_promtool_check_metrics(const std::string& exposition, const fs::path& dir) {
  std::ofstream(dir / "metrics.txt") << exposition;
  std::string command = fmt::format("promtool check metrics < {} 2>&1; echo \"exit=$?\"",
                                    (dir / "metrics.txt").string());
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p))
      out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

TEST(Prometheus, ScrapesCertherdAndItsAlertsFireAndResolve) {
  temp_dir tmp;
  fs::create_directories(tmp / "webroot");
  nginx_process nginx(tmp / "nginx");
  pebble_process ca({.dir = tmp / "pebble", .authz_reuse_percent = 0, .http_port = nginx.port()});
  const std::string good = unique_name("prom-good"), bad = unique_name("prom-bad");
  // The webroot is served for `good` only at first; `bad` gets 404 (its route is missing).
  auto serving = [&](const std::string& names) {
    return fmt::format(
        "  server {{ listen 127.0.0.1:@PORT@ default_server; return 404; }}\n"
        "  server {{ listen 127.0.0.1:@PORT@; server_name {}; root {}; "
        "location /.well-known/acme-challenge/ {{ default_type text/plain; }} }}\n",
        names, (tmp / "webroot").string());
  };
  nginx.start(serving(good));

  // The shipped rules, every `for:` shortened.
  std::ifstream shipped(fs::path(CERTHERD_SOURCE_DIR) / "deploy/prometheus/certherd-alerts.yml");
  std::string rules((std::istreambuf_iterator<char>(shipped)), std::istreambuf_iterator<char>());
  ASSERT_NE(rules.find("CertherdCertificateNotReady"), std::string::npos);
  rules = std::regex_replace(rules, std::regex("for: [0-9]+[smh]"), "for: 3s");
  std::ofstream(tmp / "rules.yml") << rules;

  auto listen = free_port();
  env_list env{{"DOMAINS", good + "," + bad},
               {"ACME_DIRECTORY", ca.directory_url()},
               {"ACME_ROOTS", ca.root_file().string()},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"WEBROOT", (tmp / "webroot").string()},
               {"SELF_CHECK_ADDRESS", nginx.address()},
               {"LISTEN", fmt::format("127.0.0.1:{}", listen)},
               {"STATE_DIR", (tmp / "state").string()},
               {"OUTPUT_DIR", (tmp / "out").string()}};
  background_certherd run({"run"}, env, tmp / "run.log");
  prometheus_process prom(tmp / "prometheus", listen, tmp / "rules.yml");

  // The scrape is healthy.
  ASSERT_TRUE(eventually(
      [&] {
        auto r = prom.query("up{job=\"certherd\"}");
        return r.size() == 1 && r[0].second == "1";
      },
      30s))
      << slurp(tmp / "prometheus" / "prometheus.log");

  // The expiry Prometheus holds is the certificate's notAfter.
  ASSERT_TRUE(eventually([&] { return fs::exists(tmp / "out" / good / "cert.pem"); }, 60s))
      << run.log();
  auto leaf = pki::parse_pem_chain(slurp(tmp / "out" / good / "cert.pem"));
  ASSERT_TRUE(leaf && !leaf->empty());
  const auto not_after = std::to_string(leaf->front().not_after().time_since_epoch().count());
  std::string seen;
  EXPECT_TRUE(eventually(
      [&] {
        auto r = prom.query(
            fmt::format("certherd_certificate_expiration_timestamp_seconds{{name=\"{}\"}}", good));
        seen = r.empty() ? "" : r[0].second;
        return seen == not_after;
      },
      30s))
      << "Prometheus holds " << seen << ", the certificate says " << not_after;

  // `bad` cannot be proved: not ready, and the alert fires for it (and for no other).
  auto firing = [&](const std::string& alert) {
    std::vector<std::string> names;
    for (const auto& [labels, value] :
         prom.query(fmt::format("ALERTS{{alertname=\"{}\",alertstate=\"firing\"}}", alert))) {
      auto it = labels.find("name");
      names.push_back(it == labels.end() ? "" : it->second);
    }
    return names;
  };
  ASSERT_TRUE(eventually(
      [&] { return firing("CertherdCertificateNotReady") == std::vector<std::string>{bad}; }, 60s))
      << run.log();

  // Its route mended: the next attempt (the backoff's first step, a minute) issues, and the
  // alert resolves.
  nginx.stop();
  nginx.start(serving(good + " " + bad));
  ASSERT_TRUE(eventually([&] { return fs::exists(tmp / "out" / bad / "cert.pem"); }, 150s))
      << run.log();
  EXPECT_TRUE(eventually([&] { return firing("CertherdCertificateNotReady").empty(); }, 30s));

  // promtool finds nothing to fix in the exposition.
  auto exposition = loopback_call(listen, "GET", "/metrics").body;
  ASSERT_NE(exposition.find("certherd_certificate_expiration_timestamp_seconds"),
            std::string::npos);
  EXPECT_EQ(run_promtool_check_metrics(exposition, tmp.path()), "exit=0\n");
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

}  // namespace
}  // namespace certherd::testing
