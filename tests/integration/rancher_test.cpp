// certherd against Rancher, end to end — with real Pebble, nginx (the webroot) and HAProxy, and
// the Rancher SIMULATOR (tests/sim) STANDING IN FOR RANCHER 1.x, since no Rancher server can run
// here. The simulator is built to design/rancher-api.md; its load-balancer stand-in
// pushes the certificates a load balancer references into the real HAProxy when Rancher would
// reload that balancer (on a service update; not on a bare certificate update), so these tests
// see real TLS served by a real load balancer.
#include "pki/certificate.hpp"
#include "pki/encoding.hpp"
#include "pki/key.hpp"
#include "rancher_sim_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
constexpr const char* kLabel = "com.danieldent.rancher-lets-encrypt.hosts";

env_list rancher_env(const temp_dir& tmp, const rancher_sim& sim,
                     const std::string& directory = harness("CERTHERD_TEST_DIRECTORY"),
                     const std::string& root = harness("CERTHERD_TEST_ROOT")) {
  return {{"CATTLE_URL", sim.cattle_url()},
          {"CATTLE_ACCESS_KEY", rancher_sim::access_key},
          {"CATTLE_SECRET_KEY", rancher_sim::secret_key},
          {"ACME_DIRECTORY", directory},
          {"ACME_ROOTS", root},
          {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
          {"STATE_DIR", (tmp / "state").string()},
          {"LOOP_TIME", "3600"},  // no polling: whatever happens below comes from events
          {"RANCHER_TIMEOUT", "3"},
          {"LOG_LEVEL", "info"}};
}

env_list with(env_list env, const std::string& k, const std::string& v) {
  env.emplace_back(k, v);
  return env;
}

std::string sha256_of_pem(const std::string& pem) {
  auto chain = pki::parse_pem_chain(pem);
  return chain && !chain->empty() ? chain->front().fingerprint_sha256() : "";
}

bool active(const rancher_sim& sim, const std::string& name) {
  auto c = sim.certificate_named(name);
  return c && c->state == "active";
}

int count_named(const rancher_sim& sim, const std::string& name) {
  int n = 0;
  for (const auto& c : sim.certificates())
    n += c.name == name;
  return n;
}

bool serves(const haproxy_process& hap, const std::string& host, const std::string& fp) {
  std::string why;
  return served_fingerprint(hap.port, host, why) == fp;
}

TEST(Rancher, LabelledServiceIsIssuedPushedAndServedThroughTheLoadBalancer) {
  temp_dir tmp;
  haproxy_process hap(tmp / "haproxy");
  rancher_sim sim({tmp.path(), hap.dir});  // stands in for Rancher 1.x
  background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();

  // Adding a labelled service: the event reaches certherd at once (no polling: LOOP_TIME 3600).
  std::string host = unique_name("web");
  auto started = std::chrono::steady_clock::now();
  std::string web = sim.add_service("web", {{kLabel, host}});
  ASSERT_TRUE(eventually([&] { return active(sim, host); }, 30s)) << run.log();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "label added -> certificate active in Rancher: " << took.count() << " ms\n";
  auto in_rancher = *sim.certificate_named(host);

  // What Rancher holds is our leaf in `cert` alone, and a chain that verifies to Pebble's root.
  auto leaf = pki::parse_pem_chain(in_rancher.cert);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->size(), 1u) << "cert holds the leaf only; the intermediates go to certChain";

  // A load balancer that references it serves it (the simulator reloads it on creation).
  std::string lb = sim.add_load_balancer("lb", {in_rancher.id});
  std::string fp = sha256_of_pem(in_rancher.cert);
  ASSERT_TRUE(eventually([&] { return serves(hap, host, fp); }, 20s)) << sim.log();

  // A second host on the label: a second certificate, the first one untouched.
  std::string host2 = unique_name("web2");
  sim.set_labels(web, {{kLabel, host + ", " + host2}});
  ASSERT_TRUE(eventually([&] { return active(sim, host2); }, 30s)) << run.log();
  EXPECT_EQ(sim.certificate_named(host)->fingerprint, in_rancher.fingerprint);

  // A host that leaves every label stops being managed; its certificate stays in Rancher.
  sim.set_labels(web, {{kLabel, host2}});
  ASSERT_TRUE(eventually([&] { return run.count("event=unmanaged cert=" + host) == 1; }, 20s))
      << run.log();
  sim.remove_service(web);
  ASSERT_TRUE(eventually([&] { return run.count("event=unmanaged cert=" + host2) == 1; }, 20s))
      << run.log();
  EXPECT_TRUE(active(sim, host));
  EXPECT_TRUE(active(sim, host2));
  EXPECT_TRUE(serves(hap, host, fp));
  EXPECT_EQ(sim.stat("certificate_creates"), 2);

  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  // The secret key never reaches the log, neither as such nor as the Basic credentials.
  auto log = run.log();
  EXPECT_EQ(log.find(rancher_sim::secret_key), std::string::npos);
  EXPECT_EQ(log.find(pki::base64_encode(std::string(rancher_sim::access_key) + ":" +
                                        rancher_sim::secret_key)),
            std::string::npos);
}

TEST(Rancher, SelfSignedIsUpgradedInPlaceAndForeignIsLeftAlone) {
  temp_dir tmp;
  haproxy_process hap(tmp / "haproxy");
  rancher_sim sim({tmp.path(), hap.dir});  // stands in for Rancher 1.x
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  // Already in Rancher under managed names: a self-signed placeholder, and a valid certificate
  // from a CA certherd does not know (someone else's).
  std::string self_host = unique_name("selfsigned");
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto self_signed = *pki::make_self_signed(key, {self_host}, now, 24h * 30);
  std::string self_id = sim.seed_certificate(self_host, self_signed.pem(), "", key.to_pem());

  std::string foreign_host = unique_name("foreign");
  auto ca_key = *pki::private_key::generate(pki::key_type::ec256);
  auto ca = *pki::make_ca_certificate(ca_key, "Another CA", now, 24h * 365);
  auto foreign = *pki::sign_certificate(ca, ca_key, key, {foreign_host}, now, 24h * 60);
  std::string foreign_id =
      sim.seed_certificate(foreign_host, foreign.pem(), ca.pem(), key.to_pem());
  std::string foreign_fp = sim.certificate_named(foreign_host)->fingerprint;

  std::string lb = sim.add_load_balancer("lb", {foreign_id}, self_id);
  ASSERT_TRUE(
      eventually([&] { return serves(hap, self_host, self_signed.fingerprint_sha256()); }, 20s))
      << sim.log();

  background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run.log");
  sim.add_service("web", {{kLabel, self_host + "," + foreign_host}});

  // The self-signed one is replaced in place: same id, and the load balancer serves the new one.
  ASSERT_TRUE(eventually(
      [&] {
        auto c = sim.certificate_named(self_host);
        return c && c->state == "active" &&
               sha256_of_pem(c->cert) != self_signed.fingerprint_sha256();
      },
      30s))
      << run.log();
  auto upgraded = *sim.certificate_named(self_host);
  EXPECT_EQ(upgraded.id, self_id) << "updated in place, never created anew";
  EXPECT_EQ(count_named(sim, self_host), 1);
  ASSERT_TRUE(eventually([&] { return serves(hap, self_host, sha256_of_pem(upgraded.cert)); }, 20s))
      << "the load balancer was asked to update: " << sim.log();
  EXPECT_GE(sim.stat("lb_update_actions"), 1);

  // The foreign one is reported and left exactly as it was.
  ASSERT_TRUE(
      eventually([&] { return run.count("event=conflict cert=" + foreign_host) >= 1; }, 30s))
      << run.log();
  EXPECT_EQ(sim.certificate_named(foreign_host)->fingerprint, foreign_fp);
  EXPECT_EQ(sim.certificate_named(foreign_host)->id, foreign_id);
  EXPECT_EQ(sim.stat("certificate_creates"), 0);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, RestartWithCertificatesAlreadyInRancherOrdersNothing) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  std::vector<std::string> hosts{unique_name("keep-a"), unique_name("keep-b")};
  sim.add_service("web", {{kLabel, hosts[0] + "," + hosts[1]}});
  {
    background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run1.log");
    ASSERT_TRUE(eventually([&] { return active(sim, hosts[0]) && active(sim, hosts[1]); }, 40s))
        << run.log();
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
  }
  long creates = sim.stat("certificate_creates"), updates = sim.stat("certificate_updates");
  background_certherd again({"run"}, rancher_env(tmp, sim), tmp / "run2.log");
  ASSERT_TRUE(eventually(
      [&] { return again.count("event=decision") >= 2 && again.count("rancher_resync") >= 1; },
      30s))
      << again.log();
  std::this_thread::sleep_for(1s);  // let any (wrong) push happen before counting
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(40s), 0);
  EXPECT_EQ(again.count("event=issued"), 0) << again.log();
  for (const auto& h : hosts)
    EXPECT_EQ(again.count("event=decision cert=" + h + " actions=0"), 1) << again.log();
  EXPECT_EQ(sim.stat("certificate_creates"), creates);
  EXPECT_EQ(sim.stat("certificate_updates"), updates);
}

// Issue 9, defect 1: with a CA whose roots certherd was not given (ACME_ROOTS unset: a private
// CA, ZeroSSL without roots, here Pebble), the certificate certherd pushed to Rancher before
// classifies as "another CA's". It is certherd's own all the same, so a renewal replaces it.
TEST(Rancher, OwnCertificateOfACaWithoutConfiguredRootsIsRenewedInRancher) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  std::string host = unique_name("ownca");
  sim.add_service("web", {{kLabel, host}});
  auto env = rancher_env(tmp, sim, harness("CERTHERD_TEST_DIRECTORY"), "");
  {
    background_certherd run({"run"}, env, tmp / "run.log");
    ASSERT_TRUE(eventually([&] { return active(sim, host); }, 40s)) << run.log();
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
  }
  auto before = *sim.certificate_named(host);
  background_certherd renew({"renew", host, "--force"}, env, tmp / "renew.log");
  EXPECT_EQ(renew.wait(60s), 0) << renew.log();
  auto after = *sim.certificate_named(host);
  EXPECT_NE(after.fingerprint, before.fingerprint) << renew.log();
  EXPECT_EQ(after.id, before.id) << "updated in place";
  EXPECT_EQ(renew.count("another CA"), 0) << renew.log();
  // And a restart after the renewal finds Rancher in sync: nothing pushed, nothing ordered.
  background_certherd again({"run"}, env, tmp / "again.log");
  ASSERT_TRUE(eventually([&] { return again.count("event=decision cert=" + host) >= 1; }, 30s))
      << again.log();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(40s), 0) << again.log();
  EXPECT_EQ(again.count("event=decision cert=" + host + " actions=0"), 1) << again.log();
  EXPECT_EQ(sim.certificate_named(host)->fingerprint, after.fingerprint);
}

TEST(Rancher, DroppedWebsocketIsCaughtUpByTheResyncAfterReconnect) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}, false, 500, 200});  // stands in for Rancher 1.x
  background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();

  // The socket drops and reconnecting is refused while a label is added: no event can tell.
  sim.faults(R"({"refuse_websockets":true,"drop_websockets":true})");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_disconnected") >= 1; }, 20s))
      << run.log();
  std::string host = unique_name("missed");
  sim.add_service("web", {{kLabel, host}});
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(sim.certificate_named(host)) << "nothing can have told certherd yet";
  sim.faults(R"({"refuse_websockets":false})");
  ASSERT_TRUE(eventually([&] { return active(sim, host); }, 40s)) << run.log();
  EXPECT_GE(run.count("event=rancher_resync"), 2);

  // A logout from Rancher: reconnect, resync, and carry on.
  sim.faults(R"({"logout":true})");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 3; }, 30s)) << run.log();
  std::string host2 = unique_name("after-logout");
  sim.add_service("api", {{kLabel, host2}});
  ASSERT_TRUE(eventually([&] { return active(sim, host2); }, 30s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, FlakyRancherNeverGetsADuplicateCertificate) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();

  // A create applied by Rancher whose answer never arrives: looked up by name, not re-created.
  sim.faults(R"({"lose_next_create":1})");
  std::string lost = unique_name("lost-answer");
  sim.add_service("a", {{kLabel, lost}});
  ASSERT_TRUE(eventually([&] { return active(sim, lost); }, 40s)) << run.log();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(count_named(sim, lost), 1) << run.log();
  // Found by name on the retry: Rancher never had to refuse a second create of the name.
  EXPECT_EQ(run.count("NotUnique"), 0) << run.log() << sim.log();
  EXPECT_EQ(sim.stat("certificate_creates"), 1);

  // 5xx answers, then a request that hangs past RANCHER_TIMEOUT: bounded retries, one create.
  sim.faults(R"({"fail_next":2,"fail_status":503})");
  std::string failing = unique_name("five-oh-three");
  sim.add_service("b", {{kLabel, failing}});
  ASSERT_TRUE(eventually([&] { return active(sim, failing); }, 60s)) << run.log();
  sim.faults(R"({"hang_next":1})");
  std::string hanging = unique_name("hang");
  sim.add_service("c", {{kLabel, hanging}});
  ASSERT_TRUE(eventually([&] { return active(sim, hanging); }, 60s)) << run.log();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(count_named(sim, failing), 1);
  EXPECT_EQ(count_named(sim, hanging), 1);
  EXPECT_EQ(sim.stat("certificate_creates"), 3);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, JunkInLabelsIsReportedAndValidHostsAreServed) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  unsigned short port = free_port();
  auto env = with(with(rancher_env(tmp, sim), "ALLOWED_DOMAINS", "example.com"), "LISTEN",
                  fmt::format("127.0.0.1:{}", port));
  background_certherd run({"run"}, env, tmp / "run.log");
  std::string good = unique_name("good");
  std::string junk = fmt::format(
      " ,*.wild.example.com, 10.1.2.3,{} , bad_name.example.com,{}.example.com, evil.org,", good,
      std::string(70, 'x'));
  sim.add_service("web", {{kLabel, junk}});
  ASSERT_TRUE(eventually([&] { return active(sim, good); }, 40s)) << run.log();
  EXPECT_GE(run.count("event=label_problem"), 5) << run.log();
  EXPECT_EQ(run.count("evil.org is outside ALLOWED_DOMAINS"), 1) << run.log();
  EXPECT_EQ(sim.certificates().size(), 1u);
  // The status lists what was skipped, with the service holding it and why.
  auto status = loopback_call(port, "GET", "/status");
  ASSERT_EQ(status.status, 200u);
  rapidjson::Document doc;
  doc.Parse(status.body.c_str());
  ASSERT_TRUE(doc.IsObject() && doc["rejected"].IsArray()) << status.body;
  std::map<std::string, std::string> why;
  for (const auto& r : doc["rejected"].GetArray()) {
    EXPECT_NE(std::string(r["source"].GetString()).find("on service web"), std::string::npos);
    why[r["item"].GetString()] = r["reason"].GetString();
  }
  EXPECT_EQ(why["evil.org"], "outside ALLOWED_DOMAINS") << status.body;
  EXPECT_NE(why["*.wild.example.com"].find("wildcard"), std::string::npos) << status.body;
  EXPECT_NE(why["10.1.2.3"].find("IP address"), std::string::npos) << status.body;
  EXPECT_NE(why["bad_name.example.com"], "") << status.body;
  EXPECT_EQ(why.count(good), 0u);
  auto page = loopback_call(port, "GET", "/");
  EXPECT_NE(page.body.find("rejected inputs"), std::string::npos);
  EXPECT_NE(page.body.find("<td>evil.org</td><td>outside ALLOWED_DOMAINS</td>"), std::string::npos);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, RapidChangesOfOneServiceReachTheQueueOnce) {
  temp_dir tmp;
  // Stands in for Rancher 1.x; coalescing off, so every change is its own event.
  rancher_sim sim({tmp.path(), {}, false, 5000, 0});
  background_certherd run({"run"}, rancher_env(tmp, sim), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();
  std::string host = unique_name("rapid");
  std::string id = sim.add_service("web", {{kLabel, host}});
  ASSERT_TRUE(eventually([&] { return active(sim, host); }, 30s)) << run.log();
  std::this_thread::sleep_for(1s);  // the events of its creation settle
  long before = run.count("event=decision cert=" + host);
  // Ten changes of the service that do not change what it asks for: nothing to reconcile.
  for (int i = 0; i < 10; ++i)
    sim.set_labels(id, {{kLabel, " " + host + " "}, {"version", std::to_string(i)}});
  // Then a burst that adds a host: one certificate, one reconcile of the new name.
  std::string host2 = unique_name("rapid2");
  for (int i = 0; i < 5; ++i)
    sim.set_labels(id, {{kLabel, host + "," + host2}, {"burst", std::to_string(i)}});
  ASSERT_TRUE(eventually([&] { return active(sim, host2); }, 30s)) << run.log();
  std::this_thread::sleep_for(1s);
  EXPECT_GE(sim.stat("events_sent"), 6) << "several events, not one coalesced";
  EXPECT_EQ(run.count("event=decision cert=" + host), before) << run.log();
  EXPECT_EQ(run.count("event=issued cert=" + host2), 1) << run.log();
  // One reconcile acted; Rancher's own event for the new certificate may wake one more look.
  EXPECT_EQ(run.count("event=decision cert=" + host2 + " actions=1"), 1) << run.log();
  EXPECT_LE(run.count("event=decision cert=" + host2), 2) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, DomainsOnlyWhenDynamicConfigIsOffAndPlanReadsRancher) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  std::string listed = unique_name("listed"), labelled = unique_name("labelled");
  sim.add_service("web", {{kLabel, labelled}});

  // `plan` looks at Rancher once: the labelled host is wanted, by that service.
  std::vector<std::string> args{"plan"};
  auto env = rancher_env(tmp, sim);
  env.emplace_back("DOMAINS", listed);
  {
    background_certherd plan(args, env, tmp / "plan.log");
    ASSERT_EQ(plan.wait(30s), 0) << plan.log();
    auto out = plan.log();
    EXPECT_NE(out.find(labelled + ": issue"), std::string::npos) << out;
    EXPECT_NE(out.find("wanted by: service web"), std::string::npos) << out;
    EXPECT_NE(out.find(listed + ": issue"), std::string::npos) << out;
    EXPECT_EQ(sim.stat("certificate_creates"), 0) << "plan changes nothing";
  }
  env.emplace_back("DYNAMIC_CONFIG", "false");
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return active(sim, listed); }, 30s)) << run.log();
  std::this_thread::sleep_for(2s);
  EXPECT_FALSE(sim.certificate_named(labelled)) << "labels are not read with DYNAMIC_CONFIG=false";
  EXPECT_EQ(run.count("cert=" + labelled), 0) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Rancher, RenewalsUpdateInPlaceAndTheLoadBalancerFollowsWithoutAFailedRequest) {
  temp_dir tmp;
  haproxy_process hap(tmp / "haproxy");
  rancher_sim sim({tmp.path(), hap.dir});  // stands in for Rancher 1.x
  std::string host = unique_name("renew");
  // 20-second certificates from the short-lived Pebble: renewed about every 10 s.
  background_certherd run({"run"},
                          rancher_env(tmp, sim, harness("CERTHERD_TEST_SHORT_DIRECTORY"),
                                      harness("CERTHERD_TEST_SHORT_ROOT")),
                          tmp / "run.log");
  sim.add_service("web", {{kLabel, host}});
  ASSERT_TRUE(eventually([&] { return active(sim, host); }, 30s)) << run.log();
  std::string id = sim.certificate_named(host)->id;
  sim.add_load_balancer("lb", {id});

  std::vector<std::string> served;
  int requests = 0, failures = 0;
  std::string why, first_failure;
  auto end = std::chrono::steady_clock::now() + 26s;
  while (std::chrono::steady_clock::now() < end) {
    std::string fp = served_fingerprint(hap.port, host, why);
    ++requests;
    if (fp.empty()) {
      if (++failures == 1) first_failure = why;
    } else if (served.empty() || served.back() != fp) {
      served.push_back(fp);
    }
    std::this_thread::sleep_for(20ms);
  }
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  EXPECT_EQ(failures, 0) << first_failure;
  // The placeholder, the first certificate, and at least one renewal pushed through the LB.
  EXPECT_GE(served.size(), 3u) << requests << " requests\n" << run.log();
  EXPECT_EQ(sim.certificate_named(host)->id, id) << "every renewal updated the same certificate";
  EXPECT_EQ(count_named(sim, host), 1);
  EXPECT_GE(sim.stat("lb_update_actions"), 1);
  std::cout << fmt::format("{} TLS requests, {} failed, {} certificates served in turn\n", requests,
                           failures, served.size());
}

}  // namespace
}  // namespace certherd::testing

namespace certherd::testing {
namespace {

// Rancher behind HTTPS: the real HAProxy terminates TLS (a certificate from a test CA given as
// CATTLE_CA_BUNDLE) in front of the simulator, which stands in for Rancher 1.x. The REST calls
// and the event websocket (wss://) both go through it, verified against that CA.
TEST(Rancher, OverHttpsAndSecureWebsocket) {
  temp_dir tmp;
  rancher_sim sim({tmp.path(), {}, false, 500, 200});
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto ca_key = *pki::private_key::generate(pki::key_type::ec256);
  auto ca = *pki::make_ca_certificate(ca_key, "Rancher test CA", now, 24h);
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto cert = *pki::sign_certificate(ca, ca_key, key, {"localhost"}, now, 24h);
  { std::ofstream(tmp / "front.pem") << cert.pem() << key.to_pem(); }
  { std::ofstream(tmp / "ca.pem") << ca.pem(); }
  auto sim_port = sim.cattle_url().substr(std::string("http://127.0.0.1:").size());
  sim_port = sim_port.substr(0, sim_port.find('/'));
  unsigned short port = free_port();
  {
    std::ofstream cfg(tmp / "front.cfg");
    cfg << fmt::format(R"(global
  pidfile {0}/front.pid
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
frontend tls
  bind 127.0.0.1:{1} ssl crt {0}/front.pem
  default_backend sim
backend sim
  server sim 127.0.0.1:{2}
)",
                       tmp.path().string(), port, sim_port);
  }
  ASSERT_EQ(std::system(fmt::format("haproxy -D -f {}", (tmp / "front.cfg").string()).c_str()), 0);
  struct stop_front {
    std::filesystem::path pid;
    ~stop_front() {
      auto p = slurp(pid);
      if (!p.empty()) ::kill(std::stoi(p), SIGTERM);
    }
  } front{tmp / "front.pid"};

  auto env = rancher_env(tmp, sim);
  for (auto& [k, v] : env) {
    if (k == "CATTLE_URL") v = fmt::format("https://localhost:{}/v1", port);
  }
  env.emplace_back("CATTLE_CA_BUNDLE", (tmp / "ca.pem").string());
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=rancher_resync") >= 1; }, 20s)) << run.log();
  std::string host = unique_name("tls");
  sim.add_service("web", {{kLabel, host}});
  ASSERT_TRUE(eventually([&] { return active(sim, host); }, 30s)) << run.log();
  EXPECT_EQ(run.count("event=rancher_disconnected"), 0) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();

  // Without the CA, the same Rancher is refused: TLS is verified, not merely used.
  env.pop_back();
  temp_dir other;
  for (auto& [k, v] : env) {
    if (k == "STATE_DIR") v = (other / "state").string();
  }
  background_certherd untrusted({"run"}, env, other / "run.log");
  ASSERT_TRUE(eventually([&] { return untrusted.count("event=rancher_unreachable") >= 1; }, 20s))
      << untrusted.log();
  EXPECT_NE(untrusted.log().find("certificate verify failed"), std::string::npos)
      << untrusted.log();
  untrusted.signal(SIGTERM);
  EXPECT_EQ(untrusted.wait(40s), 0);
}

}  // namespace
}  // namespace certherd::testing
