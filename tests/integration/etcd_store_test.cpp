// Issue 12, the etcd store (STORE=etcd) with one certherd: certificates issued by a private real
// Pebble land in a private 3-member etcd cluster (Debian's etcd-server), their private keys
// sealed (etcdctl reads ciphertext); a restart reads them back and orders nothing; a wrong
// STORE_KEY_FILE stops start-up and writes nothing; a record someone else wrote into etcd is
// reported, never overwritten.
#include "etcd_cluster.hpp"
#include "pebble_process.hpp"
#include "rancher_sim_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;

std::string write_key(const temp_dir& tmp, const std::string& name, char fill) {
  auto path = tmp / name;
  std::ofstream(path, std::ios::binary) << std::string(31, fill) << 'k';
  return path.string();
}

struct etcd_run {
  /// tls: the cluster asks for client certificates of its CA (--client-cert-auth), and certherd
  /// is given ETCD_CA_FILE, ETCD_CERT_FILE and ETCD_KEY_FILE.
  explicit etcd_run(bool tls = false) : cluster({tmp / "etcd", 3, tls}), tls(tls) {}
  temp_dir tmp;
  etcd_cluster cluster;
  bool tls;
  pebble_process ca{{tmp / "pebble"}};
  std::string prefix = "env-" + unique_name("p") + "/";
  std::string key_a = write_key(tmp, "a.key", 'a');

  env_list env(const std::string& domains, const std::string& key_file) const {
    auto e = certherd_env(tmp, domains, ca.directory_url(), ca.root_file().string());
    e.emplace_back("STORE", "etcd");
    e.emplace_back("ETCD_ENDPOINTS", cluster.endpoints());
    e.emplace_back("ETCD_PREFIX", prefix);
    e.emplace_back("STORE_KEY_FILE", key_file);
    if (tls) {
      e.emplace_back("ETCD_CA_FILE", cluster.ca_file().string());
      e.emplace_back("ETCD_CERT_FILE", cluster.client_cert().string());
      e.emplace_back("ETCD_KEY_FILE", cluster.client_key().string());
    }
    return e;
  }
  std::string value_of(const std::string& key) const {
    return cluster.etcdctl("get --print-value-only " + prefix + key);
  }
  std::string revision() const {
    // The cluster's revision: any write at all moves it.
    auto out = cluster.etcdctl("get --write-out=fields " + prefix + "keys/check");
    auto at = out.find("\"Revision\" : ");
    return at == std::string::npos ? out : out.substr(at, out.find('\n', at) - at);
  }
};

std::string run_until(const env_list& env, const std::filesystem::path& log,
                      const std::string& done) {
  background_certherd run({"run"}, env, log);
  EXPECT_TRUE(eventually([&] { return run.count(done) >= 1; }, 90s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  return run.log();
}

// Over TLS with client certificates, as a production cluster runs: certherd end to end with
// ETCD_CA_FILE, ETCD_CERT_FILE and ETCD_KEY_FILE.
TEST(EtcdStore, KeysAreSealedInEtcdAndARestartOrdersNothing) {
  etcd_run r(true);
  std::string host = unique_name("etcdstore");
  auto log = run_until(r.env(host, r.key_a), r.tmp / "first.log", "event=issued");
  EXPECT_EQ(r.ca.orders(), 1) << log;

  std::string raw = r.value_of("certificates/" + host);
  ASSERT_FALSE(raw.empty()) << "no record in etcd under " << r.prefix;
  EXPECT_NE(raw.find("BEGIN CERTIFICATE"), std::string::npos);  // the chain is public
  EXPECT_NE(raw.find("certherd-sealed-v1."), std::string::npos) << raw;
  EXPECT_EQ(raw.find("PRIVATE KEY"), std::string::npos) << "a private key in etcd in clear";
  EXPECT_EQ(r.value_of("keys/check").find("certherd-sealed-v1."), 0u);
  // Nothing of the key reached STATE_DIR's records: the store is etcd.
  EXPECT_FALSE(std::filesystem::exists(r.tmp / "state" / "certificates" / (host + ".json")));

  // Again, with the files target emptied: the certificate comes from etcd, not from the CA.
  std::filesystem::remove_all(r.tmp / "out");
  log = run_until(r.env(host, r.key_a), r.tmp / "second.log", "event=decision");
  EXPECT_TRUE(eventually(
      [&] { return std::filesystem::exists(r.tmp / "out" / host / "privkey.pem"); }, 30s))
      << log;
  EXPECT_EQ(r.ca.orders(), 1) << log;
  EXPECT_EQ(log.find("event=issued"), std::string::npos) << log;

  // A client certificate of another CA: etcd refuses the handshake, certherd stops and names the
  // store and the member. (How the refusal reads depends on TLS 1.3's timing: the server's
  // "bad certificate" alert, or a reset when the client writes first.)
  auto env = r.env(host, r.key_a);
  for (auto& [name, value] : env) {
    if (name == "ETCD_CERT_FILE") value = r.cluster.stranger_cert().string();
    if (name == "ETCD_KEY_FILE") value = r.cluster.stranger_key().string();
  }
  background_certherd stranger({"run"}, env, r.tmp / "stranger.log");
  EXPECT_EQ(stranger.wait(60s), 1) << stranger.log();
  EXPECT_NE(stranger.log().find("etcd store ("), std::string::npos) << stranger.log();
  EXPECT_NE(stranger.log().find("https://127.0.0.1:"), std::string::npos) << stranger.log();
  EXPECT_EQ(r.ca.orders(), 1);
}

TEST(EtcdStore, AWrongKeyStopsStartUpAndWritesNothing) {
  etcd_run r;
  std::string host = unique_name("wrongkey");
  run_until(r.env(host, r.key_a), r.tmp / "first.log", "event=issued");
  std::string before = r.value_of("certificates/" + host);
  std::string at = r.revision();

  std::string key_b = write_key(r.tmp, "b.key", 'b');
  background_certherd wrong({"run"}, r.env(host, key_b), r.tmp / "wrong.log");
  EXPECT_EQ(wrong.wait(60s), 2) << wrong.log();
  EXPECT_NE(wrong.log().find("STORE_KEY_FILE does not open what the store"), std::string::npos)
      << wrong.log();
  EXPECT_EQ(wrong.log().find(std::string(31, 'b')), std::string::npos);  // never the key
  EXPECT_EQ(r.value_of("certificates/" + host), before);
  EXPECT_EQ(r.revision(), at);
  EXPECT_EQ(r.ca.orders(), 1);

  // A key file that is not 32 bytes, or missing: refused by name before etcd is asked.
  std::ofstream(r.tmp / "short.key") << "short";
  background_certherd bad({"run"}, r.env(host, (r.tmp / "short.key").string()),
                          r.tmp / "short.log");
  EXPECT_EQ(bad.wait(30s), 2) << bad.log();
  EXPECT_NE(bad.log().find("short.key' holds 5 bytes"), std::string::npos) << bad.log();

  // Rotation: the new key first, the old one still read; the next write re-seals.
  auto log = run_until(r.env(host, key_b + "," + r.key_a), r.tmp / "rotated.log", "event=decision");
  EXPECT_EQ(r.ca.orders(), 1) << log;
}

TEST(EtcdStore, ARecordSomebodyElseWroteIsReportedAndLeftAlone) {
  etcd_run r;
  std::string host = unique_name("planted");
  // A record whose key is in clear (not sealed): unreadable to certherd, and not replaced.
  std::string planted = fmt::format(
      R"({{"format":1,"name":"{}","hosts":["{}"],"directory":"x","key_type":"ec256","chain":"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n","key":"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"}})",
      host, host);
  std::ofstream(r.tmp / "planted.json") << planted;
  r.cluster.etcdctl(
      fmt::format("put {}certificates/{} < {}", r.prefix, host, (r.tmp / "planted.json").string()));
  background_certherd run({"run"}, r.env(host, r.key_a), r.tmp / "run.log");
  EXPECT_TRUE(eventually([&] { return run.count("is not sealed") >= 1; }, 60s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  EXPECT_EQ(r.value_of("certificates/" + host), planted + "\n");
  EXPECT_EQ(r.ca.orders(), 0) << run.log();
}

// `certherd store migrate`: a single instance's certificates and account key copied from
// STATE_DIR into etcd and back, and nothing ordered again on either side of the move; the account
// moved with them (a replacement ordered through etcd registers nothing new).
TEST(EtcdStore, MigrateThereAndBackOrdersNothing) {
  etcd_run r;
  std::string host = unique_name("migrate");
  auto files_env = certherd_env(r.tmp, host, r.ca.directory_url(), r.ca.root_file().string());
  std::ofstream(r.tmp / "limits") << "certificates_per_domain 50 7d\n";
  files_env.emplace_back("RATE_LIMITS", (r.tmp / "limits").string());
  run_until(files_env, r.tmp / "file.log", "event=issued");
  ASSERT_EQ(r.ca.orders(), 1);
  const std::string spent = "certificates_per_domain\texample.com\t";
  ASSERT_NE(slurp(r.tmp / "state" / "budgets").find(spent), std::string::npos);
  std::vector<std::string> etcd_flags = {"--etcd-endpoints", r.cluster.endpoints(), "--etcd-prefix",
                                         r.prefix,           "--store-key-file",    r.key_a};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  auto there = run_certherd(with(
      {"store", "migrate", "--to", "etcd", "--state-dir", (r.tmp / "state").string()}, etcd_flags));
  ASSERT_EQ(there.code, 0) << there.output;
  EXPECT_NE(there.output.find("1 certificate copied, 0 already there, 0 not copied; 1 account "
                              "copied"),
            std::string::npos)
      << there.output;
  EXPECT_EQ(r.value_of("certificates/" + host).find("PRIVATE KEY"), std::string::npos);
  // What the single instance spent of its rate-limit budgets moved with it, sealed (it comes
  // back below).
  EXPECT_EQ(r.value_of("budgets").find("certherd-sealed-v1."), 0u) << r.value_of("budgets");
  EXPECT_EQ(r.value_of("budgets").find("example.com"), std::string::npos);
  // Twice: everything is there already, nothing is replaced.
  auto again = run_certherd(with(
      {"store", "migrate", "--to", "etcd", "--state-dir", (r.tmp / "state").string()}, etcd_flags));
  EXPECT_NE(again.output.find("0 certificates copied, 1 already there"), std::string::npos)
      << again.output;

  // On etcd, from a STATE_DIR of its own: nothing ordered; a replacement asked for is ordered
  // with the account that moved.
  auto etcd_env = r.env(host, r.key_a);
  etcd_env.emplace_back("STATE_DIR", (r.tmp / "state-etcd").string());
  auto log = run_until(etcd_env, r.tmp / "etcd.log", "event=decision");
  EXPECT_EQ(r.ca.orders(), 1) << log;
  auto renew = run_certherd(
      with({"renew", host, "--force", "--domains", host, "--store", "etcd", "--webroot",
            harness("CERTHERD_TEST_WEBROOT"), "--state-dir", (r.tmp / "state-cli").string()},
           etcd_flags));
  EXPECT_EQ(renew.code, 0) << renew.output;
  EXPECT_NE(renew.output.find("a replacement is recorded in etcd"), std::string::npos)
      << renew.output;
  run_until(etcd_env, r.tmp / "etcd-renew.log", "event=issued");
  EXPECT_EQ(r.ca.orders(), 2);
  EXPECT_EQ(r.ca.requests("POST /sign-me-up"), 1);

  // Back to files, into a fresh STATE_DIR: nothing ordered there either.
  auto back = run_certherd(with(
      {"store", "migrate", "--to", "file", "--state-dir", (r.tmp / "back").string()}, etcd_flags));
  ASSERT_EQ(back.code, 0) << back.output;
  auto back_env = files_env;
  back_env.emplace_back("STATE_DIR", (r.tmp / "back").string());
  log = run_until(back_env, r.tmp / "back.log", "event=decision");
  EXPECT_EQ(log.find("event=issued"), std::string::npos) << log;
  EXPECT_EQ(r.ca.orders(), 2) << log;
  EXPECT_TRUE(std::filesystem::exists(r.tmp / "back" / "accounts"));
  EXPECT_NE(slurp(r.tmp / "back" / "budgets").find(spent), std::string::npos);
}

// Three replicas on one store: one leader orders, every replica serves the same certificates
// from the store, and when the leader is killed (SIGKILL) another takes over within the lease's
// TTL and orders nothing again (the records are in etcd).
TEST(EtcdReplicas, OneLeaderOrdersEveryReplicaServesAndAKilledLeaderIsReplaced) {
  etcd_run r;
  std::vector<std::string> hosts = {unique_name("ha-a"), unique_name("ha-b"), unique_name("ha-c")};
  std::string domains = hosts[0] + "," + hosts[1] + "," + hosts[2];
  std::vector<std::unique_ptr<background_certherd>> replicas;
  for (int i = 0; i < 3; ++i) {
    auto env = r.env(domains, r.key_a);
    env.emplace_back("STATE_DIR", (r.tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (r.tmp / fmt::format("r{}", i) / "out").string());
    env.emplace_back("LEADER_TTL", "5");
    replicas.push_back(std::make_unique<background_certherd>(std::vector<std::string>{"run"}, env,
                                                             r.tmp / fmt::format("r{}.log", i)));
  }
  auto cert_of = [&](int replica, const std::string& host) {
    auto p = r.tmp / fmt::format("r{}", replica) / "out" / host / "cert.pem";
    return std::filesystem::exists(p) ? slurp(p) : std::string();
  };
  int dead = -1;  // a killed replica serves what it had
  auto all_served = [&] {
    for (const auto& h : hosts) {
      std::string first = cert_of(dead == 0 ? 1 : 0, h);
      for (int i = 0; i < 3; ++i) {
        if (i != dead && (first.empty() || cert_of(i, h) != first)) return false;
      }
    }
    return true;
  };
  auto logs = [&] {
    std::string out;
    for (const auto& rep : replicas)
      out += rep->log() + "\n----\n";
    return out;
  };
  ASSERT_TRUE(eventually(all_served, 120s)) << logs();
  EXPECT_EQ(r.ca.orders(), 3) << logs();  // one leader ordered each certificate once
  int leader = -1, leaders = 0;
  for (int i = 0; i < 3; ++i) {
    if (replicas[i]->count("event=leader_elected") > 0) {
      leader = i;
      ++leaders;
    }
  }
  ASSERT_EQ(leaders, 1) << logs();

  // The leader dies mid-flight: another replica leads within the TTL (5 s) and a little.
  auto killed_at = std::chrono::steady_clock::now();
  replicas[leader]->signal(SIGKILL);
  replicas[leader]->wait(10s);
  dead = leader;
  int next = -1;
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (i != leader && replicas[i]->count("event=leader_elected") > 0) next = i;
        }
        return next >= 0;
      },
      30s))
      << logs();
  auto took = std::chrono::steady_clock::now() - killed_at;
  std::cout << "fail-over took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // The new leader re-read the store: nothing is ordered again, everything is still served.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(r.ca.orders(), 3) << logs();
  EXPECT_TRUE(all_served()) << logs();
  EXPECT_NE(r.cluster.etcdctl("get --print-value-only " + r.prefix + "leader").find(":"),
            std::string::npos);

  // The new leader orders with the account the first one registered (its key is in etcd,
  // sealed): a replacement asked for in the record (as `certherd revoke` writes it) is ordered
  // once, and Pebble sees no second registration.
  auto record_key = r.prefix + "certificates/" + hosts[0];
  std::string record = r.cluster.etcdctl("get --print-value-only " + record_key);
  const std::string unset = "\"reissue\": \"\"";
  auto at = record.find(unset);
  ASSERT_NE(at, std::string::npos) << record;
  record.replace(at, unset.size(), "\"reissue\": \"test: replace it\"");
  while (!record.empty() && record.back() == '\n')
    record.pop_back();
  std::ofstream(r.tmp / "reissue.json") << record;
  r.cluster.etcdctl(fmt::format("put {} < {}", record_key, (r.tmp / "reissue.json").string()));
  std::string before = cert_of(next, hosts[0]);
  ASSERT_TRUE(eventually(
      [&] { return r.ca.orders() == 4 && cert_of(next, hosts[0]) != before && all_served(); }, 60s))
      << logs();
  EXPECT_EQ(r.ca.requests("POST /sign-me-up"), 1) << logs();
  EXPECT_EQ(r.cluster.etcdctl("get --print-value-only " + record_key).find("PRIVATE KEY"),
            std::string::npos);
  std::string account =
      r.cluster.etcdctl("get --prefix --print-value-only " + r.prefix + "accounts/");
  EXPECT_NE(account.find("certherd-sealed-v1."), std::string::npos) << account;
  EXPECT_EQ(account.find("PRIVATE KEY"), std::string::npos) << account;
}

// Any replica answers a challenge: three replicas with built-in responders behind a round-robin
// HAProxy (Debian's), which is where the private Pebble validates HTTP-01 — and where the
// leader's self-check looks. Only the leader orders; a fetch that reaches a follower is answered
// from the token the store's watch brought it.
TEST(EtcdReplicas, ChallengesThroughARoundRobinBalancerAllValidate) {
  temp_dir tmp;
  etcd_cluster cluster({tmp / "etcd", 3, false});
  unsigned short front = free_port();
  std::vector<unsigned short> responders = {free_port(), free_port(), free_port()};
  std::ofstream(tmp / "haproxy.cfg") << fmt::format(
      "global\n  maxconn 200\ndefaults\n  mode http\n  timeout connect 2s\n"
      "  timeout client 10s\n  timeout server 10s\nfrontend fe\n  bind 127.0.0.1:{}\n"
      "  default_backend be\nbackend be\n  balance roundrobin\n"
      "  server r0 127.0.0.1:{}\n  server r1 127.0.0.1:{}\n  server r2 127.0.0.1:{}\n",
      front, responders[0], responders[1], responders[2]);
  pid_t haproxy = spawn_logged({"/usr/sbin/haproxy", "-db", "-f", (tmp / "haproxy.cfg").string()},
                               tmp / "haproxy.log");
  struct stop {
    pid_t pid;
    ~stop() { stop_child(pid); }
  } stop_haproxy{haproxy};
  pebble_process::options po;
  po.dir = tmp / "pebble";
  po.http_port = front;
  pebble_process ca(po);
  std::string prefix = unique_name("rr") + "/";
  std::string key = write_key(tmp, "a.key", 'a');
  std::vector<std::string> hosts;
  for (int i = 0; i < 6; ++i)
    hosts.push_back(unique_name(fmt::format("rr{}", i)));
  std::string domains;
  for (const auto& h : hosts)
    domains += (domains.empty() ? "" : ",") + h;
  std::vector<std::unique_ptr<background_certherd>> replicas;
  for (int i = 0; i < 3; ++i) {
    auto env = certherd_env(tmp, domains, ca.directory_url(), ca.root_file().string());
    env.emplace_back("WEBROOT", "");
    env.emplace_back("CHALLENGE_LISTEN", fmt::format("127.0.0.1:{}", responders[i]));
    env.emplace_back("SELF_CHECK_ADDRESS", fmt::format("127.0.0.1:{}", front));
    env.emplace_back("STORE", "etcd");
    env.emplace_back("ETCD_ENDPOINTS", cluster.endpoints());
    env.emplace_back("ETCD_PREFIX", prefix);
    env.emplace_back("STORE_KEY_FILE", key);
    env.emplace_back("STATE_DIR", (tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (tmp / fmt::format("r{}", i) / "out").string());
    replicas.push_back(std::make_unique<background_certherd>(std::vector<std::string>{"run"}, env,
                                                             tmp / fmt::format("r{}.log", i)));
  }
  auto logs = [&] {
    std::string out;
    for (const auto& rep : replicas)
      out += rep->log() + "\n----\n";
    return out;
  };
  auto issued = [&] {
    for (const auto& h : hosts) {
      for (int i = 0; i < 3; ++i) {
        if (!std::filesystem::exists(tmp / fmt::format("r{}", i) / "out" / h / "cert.pem"))
          return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(eventually(issued, 120s)) << logs();
  EXPECT_EQ(ca.orders(), 6) << logs();
  int validated = 0;
  for (const auto& h : hosts)
    validated += ca.validations_of(h);
  // Round robin over three responders: most of the CA's fetches reached a follower.
  EXPECT_GE(validated, 6) << logs();
  EXPECT_EQ(count_lines(tmp / "haproxy.log", "NOSRV"), 0);
}

// Losing etcd: one member stopped changes nothing; two (quorum lost) and the leader stops
// leading within its lease's TTL — nothing is ordered, no file is lost, both replicas keep
// serving, and each says on /readyz (503) and in its metrics that etcd does not answer; when
// the members return, a leader is elected again, orders nothing, and both are ready again.
TEST(EtcdReplicas, QuorumLostStopsOrderingNotServingAndComesBack) {
  etcd_run r;
  std::vector<std::string> hosts = {unique_name("q-a"), unique_name("q-b")};
  std::string domains = hosts[0] + "," + hosts[1];
  std::vector<std::unique_ptr<background_certherd>> replicas;
  std::vector<unsigned short> ports;
  for (int i = 0; i < 2; ++i) {
    auto env = r.env(domains, r.key_a);
    env.emplace_back("STATE_DIR", (r.tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (r.tmp / fmt::format("r{}", i) / "out").string());
    env.emplace_back("LEADER_TTL", "5");
    env.emplace_back("ETCD_TIMEOUT", "2");
    env.emplace_back("LOOP_TIME", "10");  // a resync every 10 s while etcd is away
    ports.push_back(free_port());
    env.emplace_back("LISTEN", fmt::format("127.0.0.1:{}", ports.back()));
    replicas.push_back(std::make_unique<background_certherd>(std::vector<std::string>{"run"}, env,
                                                             r.tmp / fmt::format("r{}.log", i)));
  }
  auto files = [&] {
    std::vector<std::string> out;
    for (int i = 0; i < 2; ++i) {
      for (const auto& h : hosts) {
        auto p = r.tmp / fmt::format("r{}", i) / "out" / h / "cert.pem";
        out.push_back(std::filesystem::exists(p) ? slurp(p) : std::string());
      }
    }
    return out;
  };
  auto logs = [&] { return replicas[0]->log() + "\n----\n" + replicas[1]->log(); };
  auto elected = [&] {
    return replicas[0]->count("event=leader_elected") + replicas[1]->count("event=leader_elected");
  };
  ASSERT_TRUE(eventually(
      [&] {
        auto f = files();
        return std::all_of(f.begin(), f.end(), [](const auto& x) { return !x.empty(); });
      },
      90s))
      << logs();
  auto served = files();
  EXPECT_EQ(r.ca.orders(), 2);
  auto ready = [&](int i) { return loopback_call(ports[i], "GET", "/readyz").status; };
  auto metric = [&](int i, const std::string& name) {
    std::istringstream page(loopback_call(ports[i], "GET", "/metrics").body);
    for (std::string line; std::getline(page, line);) {
      if (line.starts_with(name + " ")) return line.substr(name.size() + 1);
    }
    return std::string("(absent)");
  };
  ASSERT_TRUE(eventually([&] { return ready(0) == 200 && ready(1) == 200; }, 30s)) << logs();
  EXPECT_EQ(metric(0, "certherd_store_reachable"), "1");
  EXPECT_EQ(metric(0, "certherd_store_watching"), "1");

  // One member away: the leader stays the leader, both stay ready.
  r.cluster.kill(2);
  std::this_thread::sleep_for(8s);
  EXPECT_EQ(replicas[0]->count("event=leader_lost") + replicas[1]->count("event=leader_lost"), 0)
      << logs();
  EXPECT_EQ(ready(0), 200) << logs();
  EXPECT_EQ(ready(1), 200) << logs();

  // Two away: no quorum. The leader stops leading within the TTL; files stay, processes run.
  r.cluster.kill(1);
  ASSERT_TRUE(eventually(
      [&] {
        return replicas[0]->count("event=leader_lost") + replicas[1]->count("event=leader_lost") >=
               1;
      },
      20s))
      << logs();
  // Both say so: the follower too (its watch is ended by the member that lost its leader, and
  // no member answers its next one).
  ASSERT_TRUE(eventually([&] { return ready(0) == 503 && ready(1) == 503; }, 30s)) << logs();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(metric(i, "certherd_store_reachable"), "0") << i;
    EXPECT_EQ(metric(i, "certherd_leader"), "0") << i;
    auto why = loopback_call(ports[i], "GET", "/readyz").body;
    EXPECT_NE(why.find("etcd has not answered"), std::string::npos) << why;
  }
  std::this_thread::sleep_for(12s);  // a resync or more without etcd
  EXPECT_EQ(files(), served);
  EXPECT_EQ(r.ca.orders(), 2) << logs();
  EXPECT_EQ(replicas[0]->wait(0s), -1) << "a replica exited without etcd";
  EXPECT_EQ(replicas[1]->wait(0s), -1) << "a replica exited without etcd";

  // Back: a leader again, nothing ordered, the same files.
  int before = elected();
  r.cluster.start(1);
  r.cluster.start(2);
  ASSERT_TRUE(eventually([&] { return elected() > before; }, 60s)) << logs();
  ASSERT_TRUE(eventually([&] { return ready(0) == 200 && ready(1) == 200; }, 60s)) << logs();
  EXPECT_EQ(metric(0, "certherd_store_reachable"), "1");
  EXPECT_EQ(metric(1, "certherd_store_reachable"), "1");
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(r.ca.orders(), 2) << logs();
  EXPECT_EQ(files(), served);
}

// The rate-limit budgets are the store's, not a replica's: what the leader spent is in etcd, and
// the replica that leads after it (SIGKILL) keeps to it. Two hosts of one registered domain under
// a budget of one certificate per domain: the first leader orders one and holds the other back;
// the next leader, which started before anything was spent, holds it back too.
TEST(EtcdReplicas, TheNextLeaderKeepsToTheBudgetsTheLastOneSpent) {
  etcd_run r;
  std::vector<std::string> hosts = {unique_name("budget-a"), unique_name("budget-b")};
  std::ofstream(r.tmp / "limits") << "certificates_per_domain 1 7d\n";
  auto env_of = [&](int i) {
    auto env = r.env(hosts[0] + "," + hosts[1], r.key_a);
    env.emplace_back("STATE_DIR", (r.tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (r.tmp / fmt::format("r{}", i) / "out").string());
    env.emplace_back("RATE_LIMITS", (r.tmp / "limits").string());
    env.emplace_back("LEADER_TTL", "5");
    return env;
  };
  const std::string waiting = "waiting for the example.com budget";
  // Both start before anything is spent: what the follower learns of the spending comes through
  // the store's watch, or the new leader's reading of the budgets again — not from its start.
  std::vector<std::unique_ptr<background_certherd>> replicas;
  for (int i = 0; i < 2; ++i) {
    replicas.push_back(std::make_unique<background_certherd>(
        std::vector<std::string>{"run"}, env_of(i), r.tmp / fmt::format("r{}.log", i)));
  }
  auto logs = [&] { return replicas[0]->log() + "\n----\n" + replicas[1]->log(); };
  int leader = -1;
  ASSERT_TRUE(eventually(
      [&] {
        for (int i = 0; i < 2; ++i) {
          if (replicas[i]->count("event=issued") >= 1 && replicas[i]->count(waiting) >= 1)
            leader = i;
        }
        return leader >= 0;
      },
      60s))
      << logs();
  auto& first = *replicas[leader];
  auto& second = *replicas[1 - leader];
  // In etcd, sealed like the keys: nobody without STORE_KEY_FILE plants a block there.
  EXPECT_EQ(r.value_of("budgets").find("certherd-sealed-v1."), 0u) << r.value_of("budgets");
  EXPECT_EQ(r.value_of("budgets").find("example.com"), std::string::npos);

  first.signal(SIGKILL);
  first.wait(10s);
  int waited = second.count(waiting);
  ASSERT_TRUE(eventually([&] { return second.count("event=leader_elected") >= 1; }, 30s))
      << second.log();
  ASSERT_TRUE(eventually([&] { return second.count(waiting) > waited; }, 30s)) << second.log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(r.ca.orders(), 1) << second.log();
  EXPECT_EQ(second.count("event=issued"), 0) << second.log();
}

// Issue 12's fail-over: three replicas, each with its own HAProxy fed through the runtime API;
// each round asks for a replacement (as `certherd renew --force` records it) and kills the leader
// (SIGKILL) the moment it decides to order — mid-issuance. Another replica leads within the
// lease's TTL, every certificate converges, Pebble sees at most one extra order per kill, and
// every live replica's HAProxy serves the same certificate. The killed replica is started again
// as a follower. Prints the fail-over times. Six kills here (CI's time is bounded);
// bench/etcd/run sets CERTHERD_LEADER_KILLS=20 for the figures in docs/benchmarks.md.
TEST(EtcdReplicas, LeaderKillsMidIssuance) {
  const int kKills = [] {
    const char* v = std::getenv("CERTHERD_LEADER_KILLS");
    int n = v ? std::atoi(v) : 0;
    return n > 0 ? n : 6;
  }();
  etcd_run r;
  std::vector<std::string> hosts = {unique_name("kill-a"), unique_name("kill-b")};
  std::string domains = hosts[0] + "," + hosts[1];
  std::vector<std::unique_ptr<haproxy_process>> lbs;
  std::vector<env_list> envs;
  std::vector<std::unique_ptr<background_certherd>> replicas;
  int starts = 0;
  for (int i = 0; i < 3; ++i) {
    lbs.push_back(std::make_unique<haproxy_process>(r.tmp / fmt::format("lb{}", i)));
    auto env = r.env(domains, r.key_a);
    env.emplace_back("STATE_DIR", (r.tmp / fmt::format("r{}", i) / "state").string());
    env.emplace_back("OUTPUT_DIR", (r.tmp / fmt::format("r{}", i) / "out").string());
    env.emplace_back("HAPROXY_SOCKET", (lbs[i]->dir / "admin.sock").string());
    env.emplace_back("HAPROXY_CRT_LIST", (lbs[i]->dir / "crt-list.txt").string());
    env.emplace_back("HAPROXY_CERT_DIR", (lbs[i]->dir / "certs").string());
    env.emplace_back("LEADER_TTL", "5");
    envs.push_back(env);
    replicas.push_back(std::make_unique<background_certherd>(
        std::vector<std::string>{"run"}, env, r.tmp / fmt::format("r{}-{}.log", i, starts++)));
  }
  auto logs = [&] {
    std::string out;
    for (const auto& rep : replicas)
      out += rep->log().substr(0, 20000) + "\n----\n";
    return out;
  };
  auto held = [&](const std::string& host) {
    // What the store holds, as the leader wrote it: from etcd.
    std::string record = r.value_of("certificates/" + host);
    const std::string field = "\"fingerprint_sha256\": \"";
    auto at = record.find(field);
    if (at == std::string::npos) return std::string();
    at += field.size();
    return record.substr(at, record.find('"', at) - at);
  };
  auto converged = [&] {
    for (const auto& h : hosts) {
      std::string fp = held(h);
      if (fp.empty() ||
          r.value_of("certificates/" + h).find("\"reissue\": \"\"") == std::string::npos)
        return false;
      for (int i = 0; i < 3; ++i) {
        std::string why;
        if (served_fingerprint(lbs[i]->port, h, why) != fp) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(eventually(converged, 120s)) << logs();
  const int first_orders = r.ca.orders();
  EXPECT_EQ(first_orders, 2) << logs();

  auto leader_index = [&]() -> int {
    std::string holder;
    try {
      holder = r.cluster.etcdctl("get --print-value-only " + r.prefix + "leader");
    } catch (const std::exception&) {
      return -1;
    }
    for (int i = 0; i < 3; ++i) {
      if (holder.find(fmt::format(":{}\n", replicas[i]->pid())) != std::string::npos) return i;
    }
    return -1;
  };
  std::vector<double> failover_ms;
  for (int k = 0; k < kKills; ++k) {
    int leader = -1;
    ASSERT_TRUE(eventually([&] { return (leader = leader_index()) >= 0; }, 30s)) << logs();
    // A replacement asked for in the record: the leader decides to order it, and dies.
    const std::string& host = hosts[k % 2];
    auto key = r.prefix + "certificates/" + host;
    std::string record = r.cluster.etcdctl("get --print-value-only " + key);
    const std::string unset = "\"reissue\": \"\"";
    auto at = record.find(unset);
    ASSERT_NE(at, std::string::npos) << record;
    record.replace(at, unset.size(), fmt::format("\"reissue\": \"kill {}\"", k));
    while (!record.empty() && record.back() == '\n')
      record.pop_back();
    std::ofstream(r.tmp / "reissue.json") << record;
    int decided = replicas[leader]->count("replacement asked for: kill " + std::to_string(k));
    r.cluster.etcdctl(fmt::format("put {} < {}", key, (r.tmp / "reissue.json").string()));
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (replicas[leader]->count("replacement asked for: kill " + std::to_string(k)) == decided &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    auto killed_at = std::chrono::steady_clock::now();
    replicas[leader]->signal(SIGKILL);
    replicas[leader]->wait(10s);
    int next = -1;
    ASSERT_TRUE(eventually(
        [&] {
          next = leader_index();
          return next >= 0 && next != leader;
        },
        30s))
        << "kill " << k << ": no new leader\n"
        << logs();
    failover_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed_at)
            .count());
    replicas[leader] =
        std::make_unique<background_certherd>(std::vector<std::string>{"run"}, envs[leader],
                                              r.tmp / fmt::format("r{}-{}.log", leader, starts++));
    ASSERT_TRUE(eventually(converged, 60s)) << "kill " << k << ": no convergence\n" << logs();
  }
  const int orders = r.ca.orders() - first_orders;
  std::sort(failover_ms.begin(), failover_ms.end());
  std::cout << fmt::format(
      "{} kills of the leader mid-issuance (LEADER_TTL=5): fail-over p50 {:.0f} ms, max {:.0f} "
      "ms; orders after the first issuance {} (asked for {}, so {} extra)\n",
      kKills, failover_ms[failover_ms.size() / 2], failover_ms.back(), orders, kKills,
      orders - kKills);
  EXPECT_GE(orders, kKills);
  EXPECT_LE(orders, 2 * kKills) << "more than one extra order per kill";
  EXPECT_LE(failover_ms.back(), 5000.0 + 5000.0) << "a new leader later than the TTL and a margin";
  EXPECT_EQ(r.ca.requests("POST /sign-me-up"), 1);
}

}  // namespace
}  // namespace certherd::testing
