// CA faults (issue 9, part 3), against the real Pebble: a network between certherd and the CA that
// delays, stalls, resets and cuts answers short (the fault proxy, a stand-in network in front of
// the real Pebble); Pebble killed and restarted in the middle of orders (it forgets every account
// and order); Pebble rejecting 50 % and 90 % of nonces. Every certificate converges, whole, and
// nothing storms: requests counted at the proxy, orders and issued certificates counted in
// Pebble's log.
#include "fault_proxy.hpp"
#include "pebble_process.hpp"
#include "reliability.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;

bool all_held(const std::filesystem::path& out, const std::vector<std::string>& names,
              std::string& why) {
  for (const auto& h : names) {
    if (!output_holds(out, h, why)) return false;
  }
  return true;
}

TEST(CaFaults, ConvergesThroughAFaultyNetworkWithoutARetryStorm) {
  temp_dir tmp;
  pebble_process pebble({tmp / "pebble"});
  fault_proxy proxy(pebble.port(), 20261202);
  fault_mix mix;
  mix.delay = 15;
  mix.stall = 2;  // each costs certherd's 15-second step deadline
  mix.reset = 6;
  mix.lose_answer = 6;
  mix.truncate = 6;
  proxy.set_faults(mix);
  auto names = hosts("netfault", 6);
  auto env = run_env(tmp.path(), names, proxy.directory_url());
  env.emplace_back("CONCURRENCY", "3");
  background_certherd run({"run"}, env, tmp / "run.log");
  std::string why;
  bool converged = eventually([&] { return all_held(tmp / "out", names, why); }, 240s);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0) << run.log();
  ASSERT_TRUE(converged) << why << "\n" << run.log();

  auto c = proxy.counts();
  long faults = 0;
  for (const auto& [kind, n] : c.faults)
    faults += n;
  std::string seen;
  for (const auto& [e, n] : c.by_endpoint)
    seen += fmt::format("{}={} ", e, n);
  std::cout << "proxy: " << c.requests << " requests (" << seen << "), " << faults
            << " faulted, over " << c.connections << " connections; pebble: " << pebble.orders()
            << " orders, " << pebble.issued() << " certificates\n";
  EXPECT_GT(faults, 0) << "the proxy injected nothing: the test shows nothing";
  // A clean issuance is about a dozen requests; a fault costs a retry and a fresh nonce. A
  // retry storm would blow far past this.
  EXPECT_LE(c.requests, 20L * static_cast<long>(names.size()) + 3 * faults) << seen;
  // An order whose answer was lost is one extra order, never a loop of them.
  EXPECT_LE(pebble.orders(), static_cast<int>(names.size()) + c.by_endpoint["order-plz"] / 2 + 1);
  // Only a failure after Pebble issued can cost an extra certificate; each one is logged.
  EXPECT_LE(pebble.issued(), static_cast<int>(names.size()) + run.count("event=issue_failed"));
  EXPECT_TRUE(leftover_temporaries(tmp / "out").empty());
}

TEST(CaFaults, PebbleKilledAndRestartedInTheMiddleOfOrders) {
  temp_dir tmp;
  pebble_process pebble({tmp / "pebble"});
  auto names = hosts("cakill", 8);
  auto env = run_env(tmp.path(), names, pebble.directory_url());
  env.emplace_back("CONCURRENCY", "2");
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return pebble.orders() >= 3; }, 60s)) << run.log();
  pebble.kill();
  std::this_thread::sleep_for(1500ms);
  pebble.start();  // a new CA: no account, no order, new roots
  std::string why;
  bool converged = eventually([&] { return all_held(tmp / "out", names, why); }, 120s);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0) << run.log();
  ASSERT_TRUE(converged) << why << "\n" << run.log();
  EXPECT_GE(run.count("event=account_unknown_to_ca"), 1) << "the restart was not noticed";
  EXPECT_EQ(run.count("event=account_ready"), 2)
      << "registered once per CA lifetime: " << run.log();
  // What was in flight at the kill may be ordered again: at most one per order in flight.
  EXPECT_LE(pebble.issued(), static_cast<int>(names.size()) + 2);
}

class BadNonces : public ::testing::TestWithParam<int> {};

TEST_P(BadNonces, EveryCertificateConvergesWithoutAFailure) {
  temp_dir tmp;
  pebble_process::options o{tmp / "pebble"};
  o.nonce_reject_percent = GetParam();
  pebble_process pebble(o);
  fault_proxy counter(pebble.port(), 1);  // no faults: it counts Pebble's answers
  auto names = hosts(fmt::format("nonce{}-", GetParam()), 4);
  background_certherd run({"run"}, run_env(tmp.path(), names, counter.directory_url()),
                          tmp / "run.log");
  std::string why;
  bool converged = eventually([&] { return all_held(tmp / "out", names, why); }, 120s);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0) << run.log();
  ASSERT_TRUE(converged) << why << "\n" << run.log();
  EXPECT_EQ(run.count("event=issue_failed"), 0) << run.log();
  EXPECT_EQ(pebble.issued(), static_cast<int>(names.size()));
  auto c = counter.counts();
  long rejected = c.by_status[400];
  std::cout << GetParam() << " % nonces rejected: " << rejected << " of " << c.requests
            << " answers were 400 badNonce; " << pebble.orders() << " orders\n";
  // Pebble did reject a share of the signed requests like the one asked for (each is re-signed
  // until taken): a third of it at least, of every answer (a few dozen requests vary a lot).
  EXPECT_GT(rejected * 300, c.requests * GetParam()) << rejected << " of " << c.requests;
}

INSTANTIATE_TEST_SUITE_P(Percent, BadNonces, ::testing::Values(50, 90));

}  // namespace
}  // namespace certherd::testing
