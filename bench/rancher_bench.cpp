// Rancher benchmarks, against the Rancher SIMULATOR (tests/sim, standing in for Rancher 1.x),
// real Pebble (validation sleep off), nginx and HAProxy, all on this machine:
//
//   rancher_bench latency N COALESCE_MS — N services get a hosts label one after another; for
//     each, the time from the label being added until HAProxy serves a Pebble certificate for
//     the host (certherd pushes to Rancher and, through the runtime API, to the HAProxy). Prints
//     p50, p95 and max. COALESCE_MS is the simulator's event coalescing (Rancher's is 1000 ms:
//     events are published by a task every second), so the figure with 0 isolates certherd.
//   rancher_bench resync N — an environment of N labelled services: the time until all N
//     certificates are in Rancher, then a full resync (the websocket dropped, reconnect, list
//     everything again) timed from certherd's own log, and certherd's memory.
//
// Run through bench/rancher/run, which starts the servers.
#include "proc.hpp"
#include "rancher_sim_process.hpp"
#include "support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

namespace t = certherd::testing;
using certherd::bench::status_field;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
constexpr const char* kLabel = "com.danieldent.rancher-lets-encrypt.hosts";

namespace {

t::env_list env_of(const t::temp_dir& tmp, const t::rancher_sim& sim) {
  return {{"CATTLE_URL", sim.cattle_url()},
          {"CATTLE_ACCESS_KEY", t::rancher_sim::access_key},
          {"CATTLE_SECRET_KEY", t::rancher_sim::secret_key},
          {"ACME_DIRECTORY", t::harness("CERTHERD_TEST_DIRECTORY")},
          {"ACME_ROOTS", t::harness("CERTHERD_TEST_ROOT")},
          {"ACME_CA_BUNDLE", t::harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", t::harness("CERTHERD_TEST_WEBROOT")},
          {"STATE_DIR", (tmp / "state").string()},
          {"LOOP_TIME", "3600"},
          {"CONCURRENCY", "32"},
          {"LOG_LEVEL", "info"}};
}

// "time=2026-11-28T05:12:40.700Z" of the n-th line (1-based) holding `needle`, in ms of the day.
std::optional<double> log_time(const std::string& log, const std::string& needle, int n) {
  std::istringstream in(log);
  int seen = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) == std::string::npos || ++seen != n) continue;
    auto at = line.find("time=");
    if (at == std::string::npos) return std::nullopt;
    int h = 0, m = 0;
    double s = 0;
    if (std::sscanf(line.c_str() + at + 16, "%d:%d:%lfZ", &h, &m, &s) != 3) return std::nullopt;
    return (h * 3600 + m * 60 + s) * 1000.0;
  }
  return std::nullopt;
}

int latency(int n, int coalesce_ms) {
  t::temp_dir tmp;
  t::haproxy_process hap(tmp / "haproxy");
  t::rancher_sim sim({tmp.path(), {}, false, 5000, coalesce_ms});
  auto env = env_of(tmp, sim);
  env.emplace_back("HAPROXY_SOCKET", (hap.dir / "admin.sock").string());
  env.emplace_back("HAPROXY_CRT_LIST", (hap.dir / "crt-list.txt").string());
  env.emplace_back("HAPROXY_CERT_DIR", (hap.dir / "certs").string());
  t::background_certherd run({"run"}, env, tmp / "run.log");
  if (!t::eventually([&] { return run.count("event=rancher_resync") >= 1; }, 30s)) {
    std::cerr << "certherd did not connect:\n" << run.log();
    return 1;
  }
  std::string why;
  std::string placeholder = t::served_fingerprint(hap.port, "nothing.invalid", why);
  std::vector<double> ms;
  // Labels are added at random moments: Rancher publishes events on a fixed 1 s tick, and a
  // driver that adds the next label right after the last one was served would lock onto it.
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pause(0, 1000);
  for (int i = 0; i < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    std::string host = t::unique_name(fmt::format("lat{}", i));
    auto start = steady::now();
    sim.add_service(fmt::format("svc{}", i), {{kLabel, host}});
    bool served = t::eventually(
        [&] {
          auto fp = t::served_fingerprint(hap.port, host, why);
          return !fp.empty() && fp != placeholder;
        },
        60s);
    if (!served) {
      std::cerr << "not served: " << host << "\n" << run.log();
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[std::min(ms.size() - 1, std::size_t(p * ms.size()))]; };
  std::cout << fmt::format(
      "label added -> served by HAProxy, {} services, simulator coalescing {} ms: "
      "p50 {:.0f} ms, p95 {:.0f} ms, max {:.0f} ms\n",
      n, coalesce_ms, pct(0.50), pct(0.95), ms.back());
  run.signal(SIGTERM);
  run.wait(30s);
  return 0;
}

int resync(int n) {
  t::temp_dir tmp;
  t::rancher_sim sim({tmp.path(), {}, false, 5000, 1000});
  for (int i = 0; i < n; ++i)
    sim.add_service(fmt::format("svc{}", i), {{kLabel, t::unique_name(fmt::format("rs{}", i))}});
  auto start = steady::now();
  t::background_certherd run({"run"}, env_of(tmp, sim), tmp / "run.log");
  if (!t::eventually([&] { return sim.stat("certificate_creates") >= n; }, 600s)) {
    std::cerr << "not converged:\n" << run.log().substr(0, 4000);
    return 1;
  }
  double converge = std::chrono::duration<double>(steady::now() - start).count();
  std::cout << fmt::format(
      "{} labelled services: all {} certificates issued and created in Rancher in {:.1f} s "
      "({:.1f}/s); certherd RSS {} (peak {})\n",
      n, n, converge, n / converge, status_field(run.pid(), "VmRSS"),
      status_field(run.pid(), "VmHWM"));
  std::this_thread::sleep_for(3s);  // let the last events settle
  for (int round = 2; round <= 4; ++round) {
    sim.faults(R"({"drop_websockets":true})");
    if (!t::eventually([&] { return run.count("event=rancher_resync") >= round; }, 120s)) {
      std::cerr << "no resync:\n" << run.log().substr(0, 4000);
      return 1;
    }
    auto log = run.log();
    auto from = log_time(log, "event=rancher_subscribed", round);
    auto to = log_time(log, "event=rancher_resync", round);
    std::this_thread::sleep_for(2s);
    std::cout << fmt::format(
        "full resync #{} ({} services, {} certificates listed and compared): {:.0f} ms; "
        "certherd RSS {} (peak {}); issued since start: {}\n",
        round - 1, n, n, from && to ? *to - *from : -1.0, status_field(run.pid(), "VmRSS"),
        status_field(run.pid(), "VmHWM"), run.count("event=issued"));
  }
  run.signal(SIGTERM);
  run.wait(60s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  int n = argc > 2 ? std::atoi(argv[2]) : 50;
  try {
    if (mode == "latency") return latency(n, argc > 3 ? std::atoi(argv[3]) : 1000);
    if (mode == "resync") return resync(n);
  } catch (const std::exception& e) {
    std::cerr << "rancher_bench: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: rancher_bench latency N [COALESCE_MS] | resync N\n";
  return 2;
}
