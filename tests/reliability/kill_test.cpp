// kill -9 at random moments (issue 9, part 3): certherd is killed 30 times, at a random moment of
// its work each time, and started again, while it orders 20-second certificates from a private
// real Pebble and pushes them to all three targets — files in OUTPUT_DIR, the real HAProxy
// through its runtime API, and Rancher (the simulator standing in for Rancher 1.x). Afterwards
// every target holds, for every host, a whole certificate whose key matches; the store's records
// read; Rancher holds one certificate per name; and Pebble saw at most one order per kill more
// than the certificates certherd took in (orders counted in Pebble's log).
#include "pebble_process.hpp"
#include "rancher_sim_process.hpp"
#include "reliability.hpp"

#include "pki/certificate.hpp"
#include "pki/classification.hpp"
#include "pki/key.hpp"
#include "stores/certificate_store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <map>
#include <random>
#include <thread>

namespace certherd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string sha256_of(const std::string& pem) {
  auto chain = pki::parse_pem_chain(pem);
  return chain && !chain->empty() ? chain->front().fingerprint_sha256() : "";
}

// HAProxy's copy for a restart: chain and key in one file, the key matching the leaf.
bool haproxy_file_holds(const fs::path& file, const std::string& host, std::string& why) {
  auto pem = slurp(file);
  auto chain = pki::parse_pem_bundle(pem);
  auto key_at = pem.find("-----BEGIN");
  for (auto at = pem.find("-----BEGIN"); at != std::string::npos;
       at = pem.find("-----BEGIN", at + 1)) {
    if (pem.compare(at, 16, "-----BEGIN PRIVA") == 0 || pem.compare(at, 13, "-----BEGIN EC") == 0) {
      key_at = at;
    }
  }
  auto key = pki::private_key::from_pem(pem.substr(key_at));
  if (!chain || chain->empty() || !key) {
    why = file.string() + " does not parse";
    return false;
  }
  if (auto ok = pki::check_issued(chain->front(), *key, {host}); !ok) {
    why = file.string() + ": " + ok.error().detail;
    return false;
  }
  return true;
}

TEST(Kill, NineAtRandomMomentsLosesNothing) {
  temp_dir tmp;
  pebble_process::options po{tmp / "pebble"};
  po.validity_seconds = 20;  // renewed every ~10 s: orders and pushes all along
  pebble_process pebble(po);
  haproxy_process hap(tmp / "haproxy");
  rancher_sim sim({tmp.path(), hap.dir});  // stands in for Rancher 1.x
  auto names = hosts("kill", 4);
  auto env = run_env(tmp.path(), names, pebble.directory_url());
  env.insert(env.end(), {{"HAPROXY_SOCKET", (hap.dir / "admin.sock").string()},
                         {"HAPROXY_CRT_LIST", (hap.dir / "crt-list.txt").string()},
                         {"HAPROXY_CERT_DIR", (hap.dir / "certs").string()},
                         {"CATTLE_URL", sim.cattle_url()},
                         {"CATTLE_ACCESS_KEY", rancher_sim::access_key},
                         {"CATTLE_SECRET_KEY", rancher_sim::secret_key},
                         {"RANCHER_TIMEOUT", "3"},
                         // One order in flight: a kill can interrupt at most one.
                         {"CONCURRENCY", "1"}});
  unsigned seed = std::random_device{}();
  std::cout << "kill schedule seed: " << seed << "\n";
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> moment_ms(50, 2500);
  // Half the kills come at a random time; the others just after a step that is dangerous to be
  // interrupted in: an order decided (in flight), a certificate taken in (saved, not yet pushed),
  // a push to each target.
  const std::vector<std::string> steps{"reason=\"issue", "event=issued", "target=files",
                                       "target=haproxy", "target=rancher"};
  std::map<std::string, int> hit;
  int taken_in = 0;  // certificates certherd accepted (event=issued), over every run
  constexpr int kKills = 30;
  for (int i = 0; i < kKills; ++i) {
    background_certherd run({"run"}, env, tmp / fmt::format("run{}.log", i));
    if (rng() % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
      ++hit["random moment"];
    } else {
      const auto& step = steps[rng() % steps.size()];
      bool seen = eventually([&] { return run.count(step) > 0; }, 6s);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
      ++hit[seen ? "after " + step : "waited for " + step];
    }
    run.signal(SIGKILL);
    ASSERT_EQ(run.wait(10s), 128 + SIGKILL);
    taken_in += run.count("event=issued");
  }
  // The last run converges: every target holds every host, the same certificate everywhere.
  background_certherd last({"run"}, env, tmp / "last.log");
  std::string why;
  bool converged = eventually(
      [&] {
        for (const auto& h : names) {
          if (!output_holds(tmp / "out", h, why)) return false;
          auto fp = output_fingerprint(tmp / "out", h);
          if (served_fingerprint(hap.port, h, why) != fp) {
            why = h + ": HAProxy serves another certificate";
            return false;
          }
          auto in_rancher = sim.certificate_named(h);
          if (!in_rancher || sha256_of(in_rancher->cert) != fp) {
            why = h + ": Rancher holds another certificate";
            return false;
          }
          if (!haproxy_file_holds(hap.dir / "certs" / (h + ".pem"), h, why)) return false;
        }
        return true;
      },
      120s);
  last.signal(SIGTERM);
  EXPECT_EQ(last.wait(60s), 0) << last.log();
  taken_in += last.count("event=issued");
  ASSERT_TRUE(converged) << why << "\n" << last.log();

  // The store's records read and hold a key that matches their certificate.
  stores::fs_store store(tmp / "state");
  ASSERT_TRUE(store.open());
  for (const auto& h : names) {
    auto r = store.load(h);
    ASSERT_TRUE(r && *r) << h << ": " << (r ? "no record" : r.error().message);
    auto chain = pki::parse_pem_chain((*r)->chain_pem);
    auto key = pki::private_key::from_pem((*r)->key_pem);
    ASSERT_TRUE(chain && key) << h;
    EXPECT_TRUE(pki::check_issued(chain->front(), *key, {h})) << h;
  }
  // One certificate per name in Rancher, never two.
  for (const auto& h : names) {
    int n = 0;
    for (const auto& c : sim.certificates())
      n += c.name == h;
    EXPECT_EQ(n, 1) << h;
  }
  for (const auto& [when, n] : hit)
    std::cout << "  killed " << n << " times " << when << "\n";
  std::cout << kKills << " kills; pebble: " << pebble.orders() << " orders, " << pebble.issued()
            << " certificates; certherd took in " << taken_in << "\n";
  EXPECT_LE(pebble.orders(), taken_in + kKills);
  EXPECT_LE(pebble.issued(), taken_in + kKills);
  EXPECT_GE(taken_in, static_cast<int>(names.size()));
}

}  // namespace
}  // namespace certherd::testing
