// Issue 12's benchmarks: certherd replicas on a real 3-member etcd cluster (Debian's etcd-server,
// on loopback), all on this machine.
//
//   etcd_bench propagation N — three replicas, each with its own HAProxy fed through the runtime
//     API, and a private Pebble. N times a replacement of one certificate is asked for in its
//     record (as `certherd renew --force` records it); timed from the request until each
//     HAProxy serves the new certificate (the leader orders it, saves it in etcd, and every
//     replica's watch brings it to its HAProxy). Prints p50, p95 and max of the time until the
//     last HAProxy serves it, and of the spread between the first and the last HAProxy (the
//     share of replication through etcd, the CA's work taken out).
//   etcd_bench scale STATE_DIR OUTPUT_DIR ROOTS_PEM DOMAINS_FILE — a store seeded by
//     bench/seed_store (every certificate valid, nothing to order) moved into etcd with
//     `certherd store migrate --to etcd`, then three replicas started one after another: the
//     time until each answers /readyz (every certificate reconciled once), its CPU and memory;
//     then, over two minutes with LOOP_TIME=30 (four no-op resyncs), the requests each sent to
//     etcd, against what the lease keep-alive alone accounts for.
//
// Run through bench/etcd/run, which starts the harness's servers and seeds the store.
#include "etcd_cluster.hpp"
#include "pebble_process.hpp"
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
namespace b = certherd::bench;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* kPrefix = "bench/";

double ms_since(steady::time_point from) {
  return std::chrono::duration<double, std::milli>(steady::now() - from).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string write_key(const t::temp_dir& tmp) {
  auto path = tmp / "store.key";
  std::ofstream(path, std::ios::binary) << std::string(31, 'b') << 'k';
  return path.string();
}

void add_store(t::env_list& env, const t::etcd_cluster& cluster, const std::string& key) {
  env.emplace_back("STORE", "etcd");
  env.emplace_back("ETCD_ENDPOINTS", cluster.endpoints());
  env.emplace_back("ETCD_PREFIX", kPrefix);
  env.emplace_back("STORE_KEY_FILE", key);
}

// The value of a metric on a replica's /metrics ("" when absent).
std::string metric(unsigned short port, const std::string& name) {
  std::istringstream page(t::loopback_call(port, "GET", "/metrics").body);
  for (std::string line; std::getline(page, line);) {
    if (line.starts_with(name + " ")) return line.substr(name.size() + 1);
  }
  return "";
}

// Until the replica's /readyz says every certificate was reconciled once.
bool wait_ready(unsigned short port, std::chrono::seconds limit) {
  auto until = steady::now() + limit;
  while (steady::now() < until) {
    try {
      if (t::loopback_call(port, "GET", "/readyz").status == 200) return true;
    } catch (const std::exception&) {
      // not listening yet: the store is being read
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

int propagation(int rounds) {
  t::temp_dir tmp;
  t::etcd_cluster cluster({tmp / "etcd", 3, false});
  t::pebble_process ca({tmp / "pebble"});
  auto key = write_key(tmp);
  std::string host = t::unique_name("prop");
  std::vector<std::unique_ptr<t::haproxy_process>> lbs;
  std::vector<std::unique_ptr<t::background_certherd>> replicas;
  for (int i = 0; i < 3; ++i) {
    lbs.push_back(std::make_unique<t::haproxy_process>(tmp / fmt::format("lb{}", i)));
    auto env = t::certherd_env(tmp, host, ca.directory_url(), ca.root_file().string());
    add_store(env, cluster, key);
    env.emplace_back("STATE_DIR", (tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (tmp / fmt::format("r{}", i) / "out").string());
    env.emplace_back("HAPROXY_SOCKET", (lbs[i]->dir / "admin.sock").string());
    env.emplace_back("HAPROXY_CRT_LIST", (lbs[i]->dir / "crt-list.txt").string());
    env.emplace_back("HAPROXY_CERT_DIR", (lbs[i]->dir / "certs").string());
    replicas.push_back(std::make_unique<t::background_certherd>(
        std::vector<std::string>{"run"}, env, tmp / fmt::format("r{}.log", i)));
  }
  auto logs = [&] {
    std::string out;
    for (const auto& r : replicas)
      out += r->log().substr(0, 8000) + "\n----\n";
    return out;
  };
  auto served = [&](int i) {
    std::string why;
    return t::served_fingerprint(lbs[i]->port, host, why);
  };
  const std::string unset = "\"reissue\": \"\"";
  auto record_key = std::string(kPrefix) + "certificates/" + host;
  auto record = [&] { return cluster.etcdctl("get --print-value-only " + record_key); };
  auto settled = [&](std::string& fp) {
    fp = served(0);
    return !fp.empty() && served(1) == fp && served(2) == fp &&
           record().find(unset) != std::string::npos;
  };
  std::string fp;
  if (!t::eventually([&] { return settled(fp); }, 120s)) {
    std::cerr << "not issued:\n" << logs();
    return 1;
  }
  std::vector<double> last_ms, spread_ms;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pause(0, 1000);
  for (int k = 0; k < rounds; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
    std::string old = fp;
    std::string value = record();
    auto at = value.find(unset);
    if (at == std::string::npos) {
      std::cerr << "round " << k << ": the record has a replacement pending\n" << value;
      return 1;
    }
    value.replace(at, unset.size(), fmt::format("\"reissue\": \"bench {}\"", k));
    while (!value.empty() && value.back() == '\n')
      value.pop_back();
    std::ofstream(tmp / "reissue.json") << value;
    auto asked = steady::now();
    cluster.etcdctl(fmt::format("put {} < {}", record_key, (tmp / "reissue.json").string()));
    std::vector<double> at_ms(3, -1.0);
    while (std::count(at_ms.begin(), at_ms.end(), -1.0) > 0) {
      if (ms_since(asked) > 120000) {
        std::cerr << "round " << k << ": not served everywhere after 120 s\n" << logs();
        return 1;
      }
      for (int i = 0; i < 3; ++i) {
        if (at_ms[i] >= 0) continue;
        auto now_fp = served(i);
        if (!now_fp.empty() && now_fp != old) at_ms[i] = ms_since(asked);
      }
      std::this_thread::sleep_for(5ms);
    }
    if (!t::eventually([&] { return settled(fp); }, 30s) || fp == old) {
      std::cerr << "round " << k << ": the replicas serve different certificates\n" << logs();
      return 1;
    }
    auto [first, last] = std::minmax_element(at_ms.begin(), at_ms.end());
    last_ms.push_back(*last);
    spread_ms.push_back(*last - *first);
  }
  std::cout << fmt::format(
      "{} renewals on the leader (Pebble, validation sleep off) -> served by all 3 replicas' "
      "HAProxy: p50 {:.0f} ms, p95 {:.0f} ms, max {:.0f} ms\n",
      rounds, percentile(last_ms, 0.5), percentile(last_ms, 0.95), percentile(last_ms, 1.0));
  std::cout << fmt::format(
      "  first HAProxy -> last HAProxy (replication through etcd and the runtime API): p50 "
      "{:.0f} ms, p95 {:.0f} ms, max {:.0f} ms; orders at Pebble {} for {} renewals and 1 "
      "issuance\n",
      percentile(spread_ms, 0.5), percentile(spread_ms, 0.95), percentile(spread_ms, 1.0),
      ca.orders(), rounds);
  for (auto& r : replicas)
    r->signal(SIGTERM);
  return 0;
}

int scale(const std::string& state, const std::string& out, const std::string& roots,
          const std::string& domains_file) {
  t::temp_dir tmp;
  t::etcd_cluster cluster({tmp / "etcd", 3, false});
  auto key = write_key(tmp);
  auto base = [&] {
    t::env_list env{{"DOMAINS_FILE", domains_file},
                    {"ACME_DIRECTORY", "https://127.0.0.1:1/dir"},
                    {"ACME_ROOTS", roots},
                    {"WEBROOT", (tmp / "www").string()},
                    {"LOOP_TIME", "30"},
                    {"LOG_LEVEL", "warn"},
                    {"RATE_LIMITS", "off"}};
    add_store(env, cluster, key);
    return env;
  };
  std::size_t n = 0;
  {
    std::ifstream in(domains_file);
    for (std::string line; std::getline(in, line);)
      n += line.empty() ? 0 : 1;
  }
  std::cout << fmt::format("{} certificates, 3-member etcd on loopback, 3 replicas\n", n);

  auto env = base();
  env.emplace_back("STATE_DIR", state);
  auto started = steady::now();
  t::background_certherd migrate({"store", "migrate", "--to", "etcd"}, env, tmp / "migrate.log");
  if (migrate.wait(1800s) != 0) {
    std::cerr << "migrate failed:\n" << migrate.log().substr(0, 4000);
    return 1;
  }
  std::cout << fmt::format("store migrate --to etcd: {:.1f} s\n", ms_since(started) / 1000);

  struct replica {
    std::unique_ptr<t::background_certherd> process;
    unsigned short port = 0;
  };
  std::vector<replica> replicas;
  for (int i = 0; i < 3; ++i) {
    auto dir = tmp / fmt::format("r{}", i);
    std::filesystem::create_directories(dir);
    // Replica 1 starts with an empty OUTPUT_DIR, as a new machine would: it writes every file.
    // The others find the files in place, as after a restart.
    bool fresh = i == 1;
    if (!fresh) std::filesystem::copy(out, dir / "out", std::filesystem::copy_options::recursive);
    auto e = base();
    e.emplace_back("STATE_DIR", (dir / "state").string());
    e.emplace_back("OUTPUT_DIR", (dir / "out").string());
    replica r;
    r.port = t::free_port();
    e.emplace_back("LISTEN", fmt::format("127.0.0.1:{}", r.port));
    auto t0 = steady::now();
    r.process = std::make_unique<t::background_certherd>(std::vector<std::string>{"run"}, e,
                                                         tmp / fmt::format("r{}.log", i));
    if (!wait_ready(r.port, 600s)) {
      std::cerr << "replica " << i << " not ready:\n" << r.process->log().substr(0, 4000);
      return 1;
    }
    std::cout << fmt::format(
        "replica {} ({}): ready in {:.2f} s, {:.0f} ms CPU, RSS {} (peak {}), leader {}\n", i,
        fresh ? "empty OUTPUT_DIR" : "OUTPUT_DIR in place", ms_since(t0) / 1000,
        b::cpu_ms(r.process->pid()), b::status_field(r.process->pid(), "VmRSS"),
        b::status_field(r.process->pid(), "VmHWM"), metric(r.port, "certherd_leader"));
    replicas.push_back(std::move(r));
  }

  // Two minutes with LOOP_TIME=30: the requests each replica sent to etcd, read from its
  // /metrics only at both ends (a page of 10,000 certificates costs CPU of its own); resyncs
  // are counted from /proc as bursts of CPU.
  std::this_thread::sleep_for(5s);
  constexpr auto window = 120s;
  std::vector<double> before, cpu_before, last_cpu;
  std::vector<int> bursts(3, 0);
  std::vector<bool> in_burst(3, false);
  for (auto& r : replicas) {
    before.push_back(std::stod(metric(r.port, "certherd_store_requests_total")));
    cpu_before.push_back(b::cpu_ms(r.process->pid()));
    last_cpu.push_back(cpu_before.back());
  }
  auto t0 = steady::now();
  while (steady::now() - t0 < window) {
    std::this_thread::sleep_for(250ms);
    for (int i = 0; i < 3; ++i) {
      double c = b::cpu_ms(replicas[i].process->pid());
      bool busy = c - last_cpu[i] > 25.0;  // 10% of a core over 250 ms
      if (busy && !in_burst[i]) ++bursts[i];
      in_burst[i] = busy;
      last_cpu[i] = c;
    }
  }
  double seconds = std::chrono::duration<double>(steady::now() - t0).count();
  for (int i = 0; i < 3; ++i) {
    auto& r = replicas[i];
    double after = std::stod(metric(r.port, "certherd_store_requests_total"));
    bool leads = metric(r.port, "certherd_leader") == "1";
    double requests = after - before[i];
    std::cout << fmt::format(
        "replica {} ({}): {:.0f} etcd requests in {:.0f} s = {:.3f}/s, with {} resyncs seen "
        "(CPU {:.0f} ms in the window, RSS {}); the {} alone accounts for {:.0f}\n",
        i, leads ? "leader" : "follower", requests, seconds, requests / seconds, bursts[i],
        last_cpu[i] - cpu_before[i], b::status_field(r.process->pid(), "VmRSS"),
        leads ? "lease keep-alive every LEADER_TTL/3 (5 s)" : "election recheck every 60 s",
        leads ? seconds / 5.0 : seconds / 60.0);
  }
  // A follower restarted: its STATE_DIR now remembers what each chain says (the memo written on
  // the way out), as after any restart but the first.
  auto& again = replicas[2];
  again.process->signal(SIGTERM);
  again.process->wait(60s);
  auto e = base();
  e.emplace_back("STATE_DIR", (tmp / "r2" / "state").string());
  e.emplace_back("OUTPUT_DIR", (tmp / "r2" / "out").string());
  e.emplace_back("LISTEN", fmt::format("127.0.0.1:{}", again.port));
  auto restarted = steady::now();
  again.process = std::make_unique<t::background_certherd>(std::vector<std::string>{"run"}, e,
                                                           tmp / "r2-again.log");
  if (!wait_ready(again.port, 600s)) {
    std::cerr << "replica 2 not ready after a restart:\n" << again.process->log().substr(0, 4000);
    return 1;
  }
  std::cout << fmt::format("replica 2 restarted: ready in {:.2f} s, {:.0f} ms CPU, RSS {}\n",
                           ms_since(restarted) / 1000, b::cpu_ms(again.process->pid()),
                           b::status_field(again.process->pid(), "VmRSS"));
  for (auto& r : replicas)
    r.process->signal(SIGTERM);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "propagation" && argc == 3) return propagation(std::atoi(argv[2]));
  if (mode == "scale" && argc == 6) return scale(argv[2], argv[3], argv[4], argv[5]);
  std::cerr << "usage: etcd_bench propagation N\n"
               "       etcd_bench scale STATE_DIR OUTPUT_DIR ROOTS_PEM DOMAINS_FILE\n";
  return 2;
}
