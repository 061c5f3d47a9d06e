// `certherd run` against the real Pebble and nginx: DOMAINS issues every certificate; a restart
// (clean, or kill -9 in the middle of issuing) converges without reissuing what is held; a
// switched directory reissues from the new one; a certificate near the end of its (20-second)
// validity is renewed; bad input is handled as documented.
#include "stores/certificate_store.hpp"
#include "support.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>

namespace certherd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
std::string fingerprint_of(const temp_dir& tmp, const std::string& host) {
  auto chain = pki::parse_pem_chain(slurp(tmp / "out" / host / "fullchain.pem"));
  return chain ? chain->front().fingerprint_sha256() : "";
}

bool all_served(const temp_dir& tmp, const std::vector<std::string>& hosts) {
  for (const auto& h : hosts) {
    if (fingerprint_of(tmp, h).empty()) return false;
  }
  return true;
}

TEST(Run, IssuesEveryDomainThenRestartsWithoutReissuing) {
  temp_dir tmp;
  std::vector<std::string> hosts{unique_name("run-a"), unique_name("run-b"), unique_name("run-c")};
  std::string domains = fmt::format("{},{},{}", hosts[0], hosts[1], hosts[2]);
  std::map<std::string, std::string> first;
  {
    background_certherd run({"run"}, certherd_env(tmp, domains), tmp / "run1.log");
    ASSERT_TRUE(eventually([&] { return all_served(tmp, hosts); }, 60s)) << run.log();
    for (const auto& h : hosts)
      first[h] = fingerprint_of(tmp, h);
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
    EXPECT_EQ(run.count("event=issued"), 3) << run.log();
    EXPECT_EQ(run.count("event=stopped"), 1) << "graceful shutdown: " << run.log();
  }
  for (const auto& h : hosts) {
    EXPECT_EQ(verify_against(slurp(tmp / "out" / h / "cert.pem"),
                             slurp(tmp / "out" / h / "chain.pem"), harness("CERTHERD_TEST_ROOT")),
              "");
  }
  background_certherd again({"run"}, certherd_env(tmp, domains), tmp / "run2.log");
  ASSERT_TRUE(eventually([&] { return again.count("event=decision") == 3; }, 30s)) << again.log();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(40s), 0);
  EXPECT_EQ(again.count("event=issued"), 0) << "nothing reissued after a restart: " << again.log();
  for (const auto& h : hosts)
    EXPECT_EQ(fingerprint_of(tmp, h), first[h]);
}

TEST(Run, KillDuringIssuanceConverges) {
  temp_dir tmp;
  std::vector<std::string> hosts;
  for (int i = 0; i < 24; ++i)
    hosts.push_back(unique_name(fmt::format("kill{}", i)));
  std::string domains = fmt::format("{}", fmt::join(hosts, ","));
  {
    background_certherd run({"run"}, certherd_env(tmp, domains), tmp / "run1.log");
    // Strike while orders are in flight: once the first certificate is stored and served.
    ASSERT_TRUE(eventually([&] { return run.count("event=pushed") >= 1; }, 60s)) << run.log();
    run.signal(SIGKILL);
    run.wait(10s);
  }
  // What the store holds now must survive the restart untouched.
  stores::fs_store store(tmp / "state");
  ASSERT_TRUE(store.open());
  std::map<std::string, std::string> held;
  for (const auto& h : hosts) {
    auto r = store.load(h);
    ASSERT_TRUE(r) << "no record is half-written: " << r.error();
    if (*r && !(*r)->chain_pem.empty()) held[h] = (*r)->fingerprint;
  }
  ASSERT_FALSE(held.empty());
  background_certherd again({"run"}, certherd_env(tmp, domains), tmp / "run2.log");
  ASSERT_TRUE(eventually(
      [&] {
        return again.count("event=decision") >= static_cast<int>(hosts.size()) &&
               all_served(tmp, hosts);
      },
      60s))
      << again.log();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(40s), 0);
  EXPECT_EQ(again.count("event=issued"), static_cast<int>(hosts.size() - held.size()))
      << "only the missing ones are issued: " << again.log();
  for (const auto& [h, fp] : held)
    EXPECT_EQ(fingerprint_of(tmp, h), fp) << h;
  for (const auto& h : hosts) {
    auto key = pki::private_key::from_pem(slurp(tmp / "out" / h / "privkey.pem"));
    auto leaf = pki::parse_pem_chain(slurp(tmp / "out" / h / "cert.pem"));
    ASSERT_TRUE(key && leaf);
    EXPECT_TRUE(leaf->front().matches(*key)) << h;
  }
}

TEST(Run, SwitchingTheDirectoryReissuesFromTheNewOne) {
  temp_dir tmp;
  std::string host = unique_name("switch");
  std::string before;
  {
    background_certherd run({"run"}, certherd_env(tmp, host), tmp / "run1.log");
    ASSERT_TRUE(eventually([&] { return all_served(tmp, {host}); }, 60s)) << run.log();
    before = fingerprint_of(tmp, host);
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0);
  }
  background_certherd run({"run"},
                          certherd_env(tmp, host, harness("CERTHERD_TEST_NOISY_DIRECTORY"),
                                       harness("CERTHERD_TEST_NOISY_ROOT")),
                          tmp / "run2.log");
  ASSERT_TRUE(eventually([&] { return fingerprint_of(tmp, host) != before; }, 60s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  EXPECT_NE(run.log().find("comes from"), std::string::npos) << run.log();
  EXPECT_EQ(
      verify_against(slurp(tmp / "out" / host / "cert.pem"),
                     slurp(tmp / "out" / host / "chain.pem"), harness("CERTHERD_TEST_NOISY_ROOT")),
      "");
}

TEST(Run, ChangedHostSetReissues) {
  // The store holds a real Pebble certificate for two names under the name of the first; the
  // desired set is the first alone, so the certificate no longer fits and is replaced.
  temp_dir tmp;
  std::string host = unique_name("hosts"), extra = unique_name("extra");
  auto issued = run_certherd({"issue", "--directory", harness("CERTHERD_TEST_DIRECTORY"),
                              "--ca-bundle", harness("CERTHERD_TEST_CA_BUNDLE"), "--webroot",
                              harness("CERTHERD_TEST_WEBROOT"), "-d", host, "-d", extra, "--out",
                              (tmp / "issued").string(), "--state-dir", (tmp / "state").string()});
  ASSERT_EQ(issued.code, 0) << issued.output;
  stores::fs_store store(tmp / "state");
  ASSERT_TRUE(store.open());
  stores::stored_certificate r;
  r.name = host;
  r.hosts = {extra, host};
  r.directory = harness("CERTHERD_TEST_DIRECTORY");
  r.chain_pem = slurp(tmp / "issued" / "fullchain.pem");
  r.key_pem = slurp(tmp / "issued" / "privkey.pem");
  auto old = pki::parse_pem_chain(r.chain_pem)->front();
  r.fingerprint = old.fingerprint_sha256();
  ASSERT_TRUE(store.save(r));

  background_certherd run({"run"}, certherd_env(tmp, host), tmp / "run.log");
  ASSERT_TRUE(eventually(
      [&] {
        return !fingerprint_of(tmp, host).empty() &&
               fingerprint_of(tmp, host) != old.fingerprint_sha256();
      },
      60s))
      << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  EXPECT_NE(run.log().find("hosts changed"), std::string::npos) << run.log();
  auto leaf = pki::parse_pem_chain(slurp(tmp / "out" / host / "cert.pem"))->front();
  EXPECT_EQ(leaf.subject_alt_names(), std::vector<std::string>{host});
}

TEST(Run, RenewsBeforeExpiry) {
  temp_dir tmp;
  std::string host = unique_name("renew");
  background_certherd run({"run"},
                          certherd_env(tmp, host, harness("CERTHERD_TEST_SHORT_DIRECTORY"),
                                       harness("CERTHERD_TEST_SHORT_ROOT")),
                          tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return all_served(tmp, {host}); }, 60s)) << run.log();
  std::string first = fingerprint_of(tmp, host);
  auto leaf = pki::parse_pem_chain(slurp(tmp / "out" / host / "cert.pem"))->front();
  // 20-second certificates renew at half their lifetime: well before they expire.
  ASSERT_TRUE(eventually([&] { return fingerprint_of(tmp, host) != first; }, 40s)) << run.log();
  EXPECT_LT(std::chrono::system_clock::now(), leaf.not_after()) << "renewed before expiry";
  EXPECT_NE(run.log().find("renewal due"), std::string::npos) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
}

TEST(Run, BadDomainsAreReportedAndTheRestIssued) {
  temp_dir tmp;
  std::string good = unique_name("good");
  background_certherd run({"run"},
                          certherd_env(tmp, "*.wild.example.com, ," + good + ",10.0.0.1,UPPER..x"),
                          tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return all_served(tmp, {good}); }, 60s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  auto log = run.log();
  EXPECT_NE(log.find("wildcard names need DNS-01"), std::string::npos) << log;
  EXPECT_NE(log.find("IP addresses are not supported"), std::string::npos) << log;
  EXPECT_NE(log.find("is empty; skipped"), std::string::npos) << log;
  EXPECT_NE(log.find("empty label"), std::string::npos) << log;
  EXPECT_EQ(run.count("event=issued"), 1);
}

TEST(Run, FailedIssuanceIsRetriedOnItsBackoffTimer) {
  // The responder Pebble validates on a port nothing serves: every order fails validation.
  temp_dir tmp;
  std::string host = unique_name("fails");
  auto env = certherd_env(tmp, host, harness("CERTHERD_TEST_RESPONDER_DIRECTORY"),
                          harness("CERTHERD_TEST_RESPONDER_ROOT"));
  env.emplace_back("LOG_LEVEL", "debug");
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=requeue cert=" + host) >= 1; }, 60s))
      << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  EXPECT_EQ(run.count("event=issue_failed cert=" + host + " kind=validation failures=1"), 1)
      << "one failure, of its kind: " << run.log();
  stores::fs_store store(tmp / "state");
  ASSERT_TRUE(store.open());
  auto r = store.load(host);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->failures, 1) << "the failure is recorded";
  EXPECT_TRUE((*r)->chain_pem.empty());
  auto retry = fmt::format("{:%FT%TZ}", (*r)->next_retry);
  EXPECT_NE(run.log().find("event=requeue cert=" + host + " at=" + retry), std::string::npos)
      << "woken at its next retry (" << retry << "): " << run.log();
}

TEST(Run, StartupErrorsAreOneClearLine) {
  temp_dir tmp;
  auto env = certherd_env(tmp, unique_name("x"));
  {
    auto bad = env;
    bad.emplace_back("STATE_DIR", "/proc/certherd-unwritable");
    background_certherd run({"run"}, bad, tmp / "state.log");
    EXPECT_EQ(run.wait(20s), 1);
    EXPECT_NE(run.log().find("STATE_DIR=/proc/certherd-unwritable"), std::string::npos)
        << run.log();
  }
  {
    auto bad = env;
    bad.emplace_back("STAGING", "perhaps");
    background_certherd run({"run"}, bad, tmp / "staging.log");
    EXPECT_EQ(run.wait(20s), 2);
    EXPECT_NE(run.log().find("STAGING='perhaps'"), std::string::npos) << run.log();
  }
}

TEST(Plan, ChangesNothingAndSaysWhy) {
  temp_dir tmp;
  std::string host = unique_name("plan");
  background_certherd plan({"plan"}, certherd_env(tmp, host), tmp / "plan.log");
  EXPECT_EQ(plan.wait(30s), 0);
  EXPECT_NE(plan.log().find(host + ": issue"), std::string::npos) << plan.log();
  EXPECT_NE(plan.log().find("no certificate held"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp / "out" / host)) << "plan changes nothing";
}

}  // namespace
}  // namespace certherd::testing
