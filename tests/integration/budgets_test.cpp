// Rate-limit budgets end to end (`certherd run` against the real Pebble, through the ACME
// stand-in where orders are counted): 80 hosts of one registered domain get the 50 orders Let's
// Encrypt's week allows and the rest are planned with their wait, also after a restart; hosts
// whose challenge can never validate are not sent to fail more often than their budget allows,
// counted in Pebble's own log.
#include "ca_standin_process.hpp"
#include "pebble_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
env_list budget_env(const temp_dir& tmp, const std::string& directory,
                    const std::vector<std::string>& hosts, const std::string& webroot,
                    const std::string& limits) {
  std::string domains;
  for (const auto& h : hosts)
    domains += (domains.empty() ? "" : ",") + h;
  return {{"DOMAINS", domains},
          {"ACME_DIRECTORY", directory},
          {"ACME_ROOTS", harness("CERTHERD_TEST_ROOT")},
          {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", webroot},
          {"STATE_DIR", (tmp / "state").string()},
          {"OUTPUT_DIR", (tmp / "out").string()},
          {"RATE_LIMITS", limits},
          {"LOG_LEVEL", "info"}};
}

int orders_seen(const ca_standin& ca) {
  rapidjson::Document doc;
  std::string text = ca.orders();
  doc.Parse(text.c_str());
  return doc.IsArray() ? static_cast<int>(doc.Size()) : -1;
}

int served(const temp_dir& tmp, const std::vector<std::string>& hosts) {
  int n = 0;
  for (const auto& h : hosts)
    n += std::filesystem::exists(tmp / "out" / h / "fullchain.pem");
  return n;
}

TEST(BudgetsRun, EightyHostsOfOneDomainGetFiftyOrdersAndTheRestWaitAcrossARestart) {
  ca_standin ca;
  temp_dir tmp;
  std::vector<std::string> hosts;
  for (int i = 0; i < 80; ++i)
    hosts.push_back(unique_name("b80"));
  auto env =
      budget_env(tmp, ca.directory(), hosts, harness("CERTHERD_TEST_WEBROOT"), "letsencrypt");
  const std::string waiting =
      "waiting for the example.com budget (certificates per registered domain, 50 per 7 d) until";
  {
    background_certherd run({"run"}, env, tmp / "run1.log");
    ASSERT_TRUE(eventually([&] { return served(tmp, hosts) == 50; }, 180s))
        << served(tmp, hosts) << " served\n"
        << run.log();
    // Every host decided: 50 issued, 30 planned with their wait.
    ASSERT_TRUE(eventually([&] { return run.count(waiting) >= 30; }, 60s)) << run.log();
    EXPECT_EQ(orders_seen(ca), 50) << "the other 30 were never sent";
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
    EXPECT_EQ(run.count("event=issued"), 50);
    EXPECT_EQ(run.count("event=issue_failed"), 0) << "nothing was sent to fail";
  }
  std::string kept = slurp(tmp / "state" / "budgets");
  EXPECT_NE(kept.find("certificates_per_domain\texample.com\t"), std::string::npos) << kept;
  EXPECT_NE(kept.find("new_accounts\t" + ca.directory() + "\t"), std::string::npos)
      << "the one registration was charged: " << kept;
  EXPECT_EQ(served(tmp, hosts), 50);
  background_certherd again({"run"}, env, tmp / "run2.log");
  ASSERT_TRUE(eventually([&] { return again.count("event=decision") >= 80; }, 60s)) << again.log();
  EXPECT_GE(again.count(waiting), 30) << "the restart kept the count: " << again.log();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(40s), 0);
  EXPECT_EQ(orders_seen(ca), 50) << again.log();
  EXPECT_EQ(again.count("event=issued"), 0);
}

// How many validations Pebble's VA started for each of `hosts` ("Pulled a task from the Tasks
// queue: ... Value:\"<host>\"" per challenge it was asked to validate).
std::map<std::string, int> validations_at_pebble(const std::vector<std::string>& hosts,
                                                 const std::filesystem::path& pebble_log) {
  std::map<std::string, int> out;
  for (const auto& h : hosts)
    out[h] = 0;
  std::ifstream log(pebble_log);
  static const std::regex task(R"re(Pulled a task from the Tasks queue: .*Value:"([^"]+)")re");
  for (std::string line; std::getline(log, line);) {
    std::smatch m;
    if (std::regex_search(line, m, task)) {
      if (auto it = out.find(m[1]); it != out.end()) ++it->second;
    }
  }
  return out;
}

TEST(BudgetsRun, HostsThatNeverValidateAreNotSentToFailPastTheirBudget) {
  temp_dir tmp;
  // A webroot no web server serves: every validation gets a 404.
  std::filesystem::create_directories(tmp / "unserved");
  // 100 names in the suite; CERTHERD_NEVER_HOSTS=500 (bench) loads Debian's Pebble 2.4.0 with
  // 500 orders at once, which it does not always survive beside the other tests.
  const char* n = std::getenv("CERTHERD_NEVER_HOSTS");
  const int count = n ? std::max(1, std::atoi(n)) : 100;
  std::vector<std::string> hosts;
  for (int i = 0; i < count; ++i)
    hosts.push_back(unique_name("never"));
  // One failed validation per name per hour: tighter than the backoff, which tries again after
  // a minute, so what Pebble sees is the budget's doing.
  std::ofstream(tmp / "limits") << "failed_authorizations 1 1h\n";
  // A Pebble of its own, without authorization reuse: under hundreds of orders at once, Debian's
  // Pebble 2.4.0 can deadlock in its memory store (newOrder's reuse lookup holding the read lock
  // while another order waits for the write lock), and the harness's Pebble serves the other tests.
  pebble_process::options po;
  po.dir = tmp / "pebble";
  po.authz_reuse_percent = 0;
  pebble_process ca(po);
  auto env = budget_env(tmp, ca.directory_url(), hosts, (tmp / "unserved").string(),
                        (tmp / "limits").string());
  env.emplace_back("ACME_ROOTS", ca.root_file().string());
  // The budget is the backstop where the self-check cannot help (it is off, or the CA sees what
  // certherd does not): with it on, not one of these would reach Pebble (self_check_test.cpp).
  env.emplace_back("SELF_CHECK", "false");
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=issue_failed") >= count; }, 240s))
      << run.count("event=issue_failed") << " failed\n"
      << run.log().substr(0, 20000);
  // Past the first backoff (1 min): without the budget, every name would be tried again now.
  std::this_thread::sleep_for(75s);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0);
  auto seen = validations_at_pebble(hosts, tmp / "pebble" / "pebble.log");
  int total = 0, most = 0;
  for (const auto& [h, n] : seen) {
    total += n;
    most = std::max(most, n);
  }
  std::cout << "validations at Pebble: " << total << " for " << hosts.size() << " names, at most "
            << most << " for one\n";
  EXPECT_EQ(most, 1) << "no name failed twice within the hour";
  EXPECT_EQ(total, count) << "each name was tried once";
  EXPECT_GE(run.count("(failed validations per name, 1 per 1 h) until"), count)
      << "planned, visibly";
  EXPECT_LE(run.count("event=issue_failed"), count);
}

}  // namespace
}  // namespace certherd::testing
