// RFC 9773 end to end: `certherd run` against a private real Pebble behind the ACME stand-in
// (tests/harness/ca-standin, a stand-in for the renewalInfo Pebble 2.4.0 lacks). A window moved
// into the past renews the certificate, and the order names the one it replaces (and is made
// again without it when the CA says alreadyReplaced); a window set ahead is where the renewal
// happens; Retry-After sets when certherd asks again, within RFC 9773's bounds; /status says
// which rule set the renewal time.
#include "clients/acme/ari.hpp"
#include "ca_standin_process.hpp"
#include "pebble_process.hpp"
#include "pki/utc_time.hpp"
#include "stores/certificate_store.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
using sys_seconds = std::chrono::sys_seconds;

sys_seconds now_s() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

std::string at(std::chrono::seconds from_now) {
  return pki::to_rfc3339(now_s() + from_now);
}

// A private Pebble behind each test's stand-in: these tests run beside the others (they spend
// their minutes waiting for the CA's next poll), and Debian's Pebble 2.4.0 can deadlock under
// concurrent load from several tests (its memory store's locks).
struct private_ca {
  explicit private_ca(const temp_dir& tmp)
      : pebble({tmp / "pebble"}), standin({}, pebble.directory_url()) {}
  pebble_process pebble;
  ca_standin standin;
};

env_list ari_env(const temp_dir& tmp, const private_ca& ca, const std::string& host,
                 unsigned short port) {
  auto env = certherd_env(tmp, host, ca.standin.directory(), ca.pebble.root_file().string());
  env.emplace_back("LISTEN", fmt::format("127.0.0.1:{}", port));
  return env;
}

std::optional<pki::certificate> served_leaf(const temp_dir& tmp, const std::string& host) {
  auto chain = pki::parse_pem_chain(slurp(tmp / "out" / host / "cert.pem"));
  if (!chain || chain->empty()) return std::nullopt;
  return chain->front();
}

std::string cert_id(const pki::certificate& leaf) {
  std::string why;
  return acme::cert_id_of(leaf, why).value_or("no CertID: " + why);
}

std::optional<stores::stored_certificate> record(const temp_dir& tmp, const std::string& host) {
  auto r = stores::from_json(slurp(tmp / "state" / "certificates" / (host + ".json")));
  if (!r) return std::nullopt;
  return *r;
}

std::string status_of(unsigned short port) {
  return loopback_call(port, "GET", "/status").body;
}

TEST(AriRun, AWindowInThePastRenewsNamingTheCertificateReplaced) {
  temp_dir tmp;
  private_ca pca(tmp);
  auto& ca = pca.standin;
  // Every new certificate: a window two months out, asked again after a minute (the least
  // RFC 9773 lets a Retry-After ask for).
  ca.set_window("*", at(24h * 60), at(24h * 62), 60);
  std::string host = unique_name("ari-past");
  unsigned short port = free_port();
  background_certherd run({"run"}, ari_env(tmp, pca, host, port), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return served_leaf(tmp, host).has_value(); }, 60s)) << run.log();
  auto first = *served_leaf(tmp, host);
  const std::string first_id = cert_id(first);
  ASSERT_TRUE(eventually([&] { return record(tmp, host) && record(tmp, host)->ari.renew_at; }, 30s))
      << run.log();
  auto kept = *record(tmp, host);
  EXPECT_EQ(kept.ari.cert_id, first_id);
  EXPECT_TRUE(kept.ari.offered);
  ASSERT_TRUE(kept.ari.window_start && kept.ari.renew_at);
  EXPECT_GE(*kept.ari.renew_at, *kept.ari.window_start);
  EXPECT_LT(*kept.ari.renew_at, *kept.ari.window_end);
  EXPECT_NE(status_of(port).find("(ARI"), std::string::npos)
      << "/status says the CA's window set the renewal time: " << status_of(port);
  EXPECT_EQ(ca.order_field(host, "replaces"), std::vector<std::string>{""})
      << "a first certificate replaces nothing";

  // Revoked, say: the CA moves its window into the past. Asked again within a minute, the
  // certificate is renewed at once, and the order names the one it replaces; the CA says it was
  // replaced already (a lost answer), and the order is made again without `replaces`.
  ca.refuse_replaces(1);
  ca.set_window(first_id, at(-48h), at(-24h), 60);
  auto moved = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        auto leaf = served_leaf(tmp, host);
        return leaf && leaf->fingerprint_sha256() != first.fingerprint_sha256();
      },
      150s))
      << run.log();
  auto took =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - moved);
  std::cout << "renewed " << took.count() << " s after the window moved into the past\n";
  EXPECT_EQ(ca.order_field(host, "replaces"), (std::vector<std::string>{"", first_id, ""}))
      << "refused with alreadyReplaced, then ordered without it";
  EXPECT_EQ(run.count("event=replaces_refused"), 1) << run.log();
  EXPECT_EQ(run.count("event=issue_failed"), 0) << "no failure, no backoff: " << run.log();
  EXPECT_NE(run.log().find("renewal due since"), std::string::npos) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  EXPECT_EQ(run.count("event=issued"), 2) << run.log();
}

TEST(AriRun, TheRenewalHappensInsideTheWindowTheCaSets) {
  temp_dir tmp;
  private_ca pca(tmp);
  auto& ca = pca.standin;
  // A window opening 40 s from now and closing 40 s later; Retry-After one day, which certherd
  // caps at 12 h (it asks at least twice a day).
  auto start = now_s() + 40s, end = start + 40s;
  ca.set_window("*", pki::to_rfc3339(start), pki::to_rfc3339(end), 86400 * 5);
  std::string host = unique_name("ari-window");
  unsigned short port = free_port();
  background_certherd run({"run"}, ari_env(tmp, pca, host, port), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return served_leaf(tmp, host).has_value(); }, 60s)) << run.log();
  auto first = *served_leaf(tmp, host);
  ASSERT_TRUE(eventually([&] { return record(tmp, host) && record(tmp, host)->ari.renew_at; }, 30s))
      << run.log();
  auto asked = now_s();
  auto kept = *record(tmp, host);
  ASSERT_TRUE(kept.ari.renew_at);
  EXPECT_GE(*kept.ari.renew_at, start);
  EXPECT_LT(*kept.ari.renew_at, end);
  // A Retry-After of five days is clamped: asked again within 12 h.
  EXPECT_LE(kept.ari.next_poll, asked + 12h);
  EXPECT_GE(kept.ari.next_poll, asked + 12h - 60s);

  ASSERT_TRUE(eventually(
      [&] {
        auto leaf = served_leaf(tmp, host);
        return leaf && leaf->fingerprint_sha256() != first.fingerprint_sha256();
      },
      150s))
      << run.log();
  auto renewed = now_s();
  EXPECT_GE(renewed, *kept.ari.renew_at) << "not before the time chosen in the window";
  EXPECT_GE(renewed, start) << "not before the window opened";
  EXPECT_LE(renewed, end + 60s) << "in the window (with the time an order takes)";
  EXPECT_EQ(ca.order_field(host, "replaces"), (std::vector<std::string>{"", cert_id(first)}));
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(AriRun, RetryAfterIsHonouredWithinItsBounds) {
  temp_dir tmp;
  private_ca pca(tmp);
  auto& ca = pca.standin;
  // One second is below RFC 9773's least: certherd waits a minute.
  ca.set_window("*", at(24h * 60), at(24h * 62), 1);
  std::string host = unique_name("ari-retry");
  unsigned short port = free_port();
  background_certherd run({"run"}, ari_env(tmp, pca, host, port), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return record(tmp, host) && record(tmp, host)->ari.renew_at; }, 60s))
      << run.log();
  auto asked = now_s();
  auto kept = *record(tmp, host);
  EXPECT_GE(kept.ari.next_poll, asked + 60s - 5s);
  EXPECT_LE(kept.ari.next_poll, asked + 60s);
  // Asked again after that minute, and the time chosen in the unchanged window stays.
  ASSERT_TRUE(
      eventually([&] { return record(tmp, host)->ari.next_poll > kept.ari.next_poll; }, 120s))
      << run.log();
  EXPECT_EQ(record(tmp, host)->ari.renew_at, kept.ari.renew_at);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  EXPECT_EQ(run.count("event=issued"), 1) << run.log();
}

}  // namespace
}  // namespace certherd::testing
