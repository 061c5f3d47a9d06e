// Rancher faults in bulk (issue 9, part 3), through the simulator's knobs (the simulator stands
// in for Rancher 1.x; no Rancher server runs here): while tenants keep changing labels — services
// added, relabelled, removed — Rancher answers slowly, fails requests with 5xx, lets requests
// hang past RANCHER_TIMEOUT, loses a create's answer, and drops the event websocket (refusing
// reconnects for a while), and certherd itself is a slow consumer (stopped for a while as events
// pile up). Afterwards no change is missed and nothing is doubled: every host
// still on a label has exactly one active certificate in Rancher, and the private Pebble saw one
// order per host.
#include "pebble_process.hpp"
#include "rancher_sim_process.hpp"
#include "reliability.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
constexpr const char* kLabel = "com.danieldent.rancher-lets-encrypt.hosts";

TEST(RancherFaults, ChurnUnderFaultsMissesNothingAndDoublesNothing) {
  temp_dir tmp;
  pebble_process pebble({tmp / "pebble"});
  rancher_sim sim({tmp.path(), {}, false, 500, 200});  // stands in for Rancher 1.x
  env_list env{{"CATTLE_URL", sim.cattle_url()},
               {"CATTLE_ACCESS_KEY", rancher_sim::access_key},
               {"CATTLE_SECRET_KEY", rancher_sim::secret_key},
               {"ACME_DIRECTORY", pebble.directory_url()},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
               {"STATE_DIR", (tmp / "state").string()},
               {"LOOP_TIME", "3600"},  // events and resyncs after reconnects only
               {"RANCHER_TIMEOUT", "2"},
               {"LOG_LEVEL", "info"}};
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();

  std::mt19937 rng(20261202);
  std::map<std::string, std::set<std::string>> labelled;  // service id -> its hosts
  std::set<std::string> ever;                             // every host ever on a label
  const std::vector<std::string> faults{
      R"({"latency_ms":300})",
      R"({"latency_ms":0,"fail_next":3,"fail_status":503})",
      R"({"hang_next":1})",
      R"({"lose_next_create":1})",
      R"({"drop_websockets":true})",
      R"({"refuse_websockets":true,"drop_websockets":true})",
      R"({"refuse_websockets":false})",
      R"({"fail_next":2,"fail_status":500})",
  };
  auto label_of = [](const std::set<std::string>& hs) {
    std::string v;
    for (const auto& h : hs)
      v += (v.empty() ? "" : ", ") + h;
    return v;
  };
  int pauses = 0;
  for (int step = 0; step < 24; ++step) {
    // A slow consumer: certherd stopped (SIGSTOP, as a CPU-starved or swapped-out process is)
    // while Rancher goes on publishing; it reads the backlog when it runs again.
    if (step % 8 == 3) {
      run.signal(SIGSTOP);
      ++pauses;
    }
    if (step % 8 == 6) run.signal(SIGCONT);
    sim.faults(faults[rng() % faults.size()]);
    int what = labelled.empty() ? 0 : static_cast<int>(rng() % 4);
    if (what <= 1) {  // a new service with one or two hosts
      std::set<std::string> hs{unique_name("churn")};
      if (rng() % 2) hs.insert(unique_name("churn"));
      auto id = sim.add_service(fmt::format("svc{}", step), {{kLabel, label_of(hs)}});
      labelled[id] = hs;
      ever.insert(hs.begin(), hs.end());
    } else {
      auto it = labelled.begin();
      std::advance(it, rng() % labelled.size());
      if (what == 2) {  // relabelled: one host more
        auto h = unique_name("churn");
        it->second.insert(h);
        ever.insert(h);
        sim.set_labels(it->first, {{kLabel, label_of(it->second)}});
      } else {  // removed: its certificates stay in Rancher, no longer renewed
        sim.remove_service(it->first);
        labelled.erase(it);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 600));
  }
  run.signal(SIGCONT);
  sim.faults(R"({"latency_ms":0,"refuse_websockets":false})");
  // A label change that no event reported is found by the resync after the next reconnect.
  sim.faults(R"({"drop_websockets":true})");

  std::set<std::string> wanted;
  for (const auto& [id, hs] : labelled)
    wanted.insert(hs.begin(), hs.end());
  std::string why;
  bool converged = eventually(
      [&] {
        for (const auto& h : wanted) {
          auto c = sim.certificate_named(h);
          if (!c || c->state != "active") {
            why = h + " has no active certificate in Rancher";
            return false;
          }
        }
        return true;
      },
      180s);
  std::this_thread::sleep_for(2s);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0) << run.log();
  ASSERT_TRUE(converged) << why << "\n" << run.log();
  std::map<std::string, int> per_name;
  for (const auto& c : sim.certificates())
    ++per_name[c.name];
  for (const auto& [name, n] : per_name)
    EXPECT_EQ(n, 1) << name << " is in Rancher " << n << " times";
  std::cout << wanted.size() << " hosts on labels at the end, " << ever.size() << " ever; "
            << pebble.orders() << " orders; " << run.count("event=rancher_disconnected")
            << " websocket drops; " << run.count("event=rancher_resync") << " resyncs; " << pauses
            << " pauses of certherd\n";
  // Every host ever labelled was ordered at most once (some removed before certherd got to them).
  EXPECT_LE(pebble.orders(), static_cast<int>(ever.size()));
  EXPECT_GE(pebble.orders(), static_cast<int>(wanted.size()));
}

}  // namespace
}  // namespace certherd::testing
