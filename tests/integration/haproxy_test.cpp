// Zero downtime through the real HAProxy: while certherd rotates a 20-second certificate from
// the real Pebble again and again through HAProxy's runtime API, a client opens a new TLS
// connection for every request. No request may fail, and the served fingerprint must follow each
// rotation certherd reports. The HAProxy here is the test's own, started from Debian's package.
#include "pki/classification.hpp"
#include "rancher_sim_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <sys/wait.h>
#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// One request on a fresh TLS connection; returns the leaf's SHA-256, or "" on any failure.
std::string one_request(unsigned short port, const std::string& sni, std::string& why) {
  std::string answer;
  std::string fp = served_fingerprint(port, sni, why, &answer);
  if (fp.empty()) return "";
  if (answer.find("200") == std::string::npos || answer.find("ok") == std::string::npos) {
    why = "bad answer: " + answer.substr(0, 80);
    return "";
  }
  return fp;
}

TEST(Haproxy, RotationsWithoutAFailedRequest) {
  temp_dir tmp;
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto placeholder = *pki::make_self_signed(key, {"default.invalid"}, now, 24h);
  { std::ofstream(tmp / "default.pem") << placeholder.pem() << key.to_pem(); }
  { std::ofstream(tmp / "crt-list.txt"); }
  unsigned short port = free_port();
  {
    std::ofstream cfg(tmp / "haproxy.cfg");
    cfg << fmt::format(R"(global
  stats socket {0}/admin.sock mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend https
  bind 127.0.0.1:{1} ssl crt {0}/default.pem crt-list {0}/crt-list.txt
  http-request return status 200 content-type text/plain string "ok"
)",
                       tmp.path().string(), port);
  }
  pid_t haproxy = ::fork();
  if (haproxy == 0) {
    ::execlp("haproxy", "haproxy", "-db", "-f", (tmp / "haproxy.cfg").c_str(), nullptr);
    ::_exit(127);
  }
  std::string why;
  ASSERT_TRUE(eventually([&] { return !one_request(port, "x", why).empty(); }, 10s))
      << "HAProxy did not come up: " << why;

  std::string host = unique_name("lb");
  background_certherd run({"run"},
                          {{"DOMAINS", host},
                           {"ACME_DIRECTORY", harness("CERTHERD_TEST_SHORT_DIRECTORY")},
                           {"ACME_ROOTS", harness("CERTHERD_TEST_SHORT_ROOT")},
                           {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
                           {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
                           {"STATE_DIR", (tmp / "state").string()},
                           {"HAPROXY_SOCKET", (tmp / "admin.sock").string()},
                           {"HAPROXY_CRT_LIST", (tmp / "crt-list.txt").string()},
                           {"HAPROXY_CERT_DIR", (tmp / "certs").string()}},
                          tmp / "run.log");

  // New connection per request, for long enough to see the first certificate and two renewals.
  std::vector<std::string> served;  // distinct fingerprints in the order first seen
  int requests = 0, failures = 0;
  std::string first_failure;
  auto end = std::chrono::steady_clock::now() + 28s;
  while (std::chrono::steady_clock::now() < end && requests < 20000) {
    std::string fp = one_request(port, host, why);
    ++requests;
    if (fp.empty()) {
      if (++failures == 1) first_failure = why;
    } else if (served.empty() || served.back() != fp) {
      served.push_back(fp);
    }
    std::this_thread::sleep_for(5ms);
  }
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  ::kill(haproxy, SIGTERM);
  ::waitpid(haproxy, nullptr, 0);

  EXPECT_EQ(failures, 0) << "first failure: " << first_failure << " (of " << requests << ")";
  // Every certificate certherd pushed was served, in the order pushed.
  std::vector<std::string> pushed;
  std::istringstream log(run.log());
  for (std::string line; std::getline(log, line);) {
    auto at = line.find("event=pushed");
    if (at == std::string::npos) continue;
    pushed.push_back(line.substr(line.find("fingerprint=", at) + 12, 64));
  }
  ASSERT_GE(pushed.size(), 3u) << "first issuance and two renewals: " << run.log();
  EXPECT_EQ(served.front(), placeholder.fingerprint_sha256()) << "before the first push";
  std::vector<std::string> after(served.begin() + 1, served.end());
  std::vector<std::string> expected(pushed.begin(),
                                    pushed.begin() + std::min(pushed.size(), after.size()));
  EXPECT_EQ(after, expected) << requests << " requests";
  EXPECT_GT(requests, 500);
  std::cout << fmt::format(
      "{} requests on new TLS connections, {} failed, {} certificates pushed, "
      "{} served in turn\n",
      requests, failures, pushed.size(), served.size());
}

// A certificate and key for `host` that certherd did not write (a bought one, say; self-signed
// here: what matters is who wrote the file, not who signed it).
std::string foreign_pem(const std::string& host) {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto leaf = *pki::make_self_signed(key, {host}, now, 24h * 300);
  return leaf.pem() + key.to_pem();
}

// Stops a child process however the test ends.
struct child_guard {
  pid_t pid;
  ~child_guard() {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
  }
};

// Issue 9, defect 2: certherd writes only files it created. With HAPROXY_CERT_DIR pointed at the
// folder of the operator's own certificates, a bought certificate under a managed name is left
// alone (until ADOPT_FOREIGN), and one the frontend binds by itself is never touched; by default
// certherd's files go to a folder of their own. Real HAProxy from Debian.
TEST(Haproxy, FilesCertherdDidNotWriteAreLeftAlone) {
  temp_dir tmp;
  std::string bought = unique_name("bought"), bound = unique_name("bound"),
              fresh = unique_name("fresh");
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto placeholder = *pki::make_self_signed(key, {"default.invalid"}, now, 24h);
  { std::ofstream(tmp / "default.pem") << placeholder.pem() << key.to_pem(); }
  const std::string bought_pem = foreign_pem(bought), bound_pem = foreign_pem(bound);
  { std::ofstream(tmp / (bought + ".pem")) << bought_pem; }
  { std::ofstream(tmp / (bound + ".pem")) << bound_pem; }
  { std::ofstream(tmp / "crt-list.txt") << (tmp / (bought + ".pem")).string() << "\n"; }
  unsigned short port = free_port();
  {
    std::ofstream cfg(tmp / "haproxy.cfg");
    cfg << fmt::format(R"(global
  stats socket {0}/admin.sock mode 600 level admin
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend https
  bind 127.0.0.1:{1} ssl crt {0}/default.pem crt {0}/{2}.pem crt-list {0}/crt-list.txt
  http-request return status 200 content-type text/plain string "ok"
)",
                       tmp.path().string(), port, bound);
  }
  pid_t haproxy = ::fork();
  if (haproxy == 0) {
    ::execlp("haproxy", "haproxy", "-db", "-f", (tmp / "haproxy.cfg").c_str(), nullptr);
    ::_exit(127);
  }
  child_guard stop_haproxy{haproxy};
  std::string why;
  ASSERT_TRUE(eventually([&] { return !one_request(port, "x", why).empty(); }, 10s))
      << "HAProxy did not come up: " << why;
  auto fp_of = [](const std::string& pem) {
    return pki::parse_pem_bundle(pem)->front().fingerprint_sha256();
  };
  env_list env{{"DOMAINS", bought + "," + bound + "," + fresh},
               {"ACME_DIRECTORY", harness("CERTHERD_TEST_DIRECTORY")},
               {"ACME_ROOTS", harness("CERTHERD_TEST_ROOT")},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
               {"STATE_DIR", (tmp / "state").string()},
               {"HAPROXY_SOCKET", (tmp / "admin.sock").string()},
               {"HAPROXY_CRT_LIST", (tmp / "crt-list.txt").string()},
               {"HAPROXY_CERT_DIR", tmp.path().string()},  // the operator's own folder
               {"LOOP_TIME", "3600"}};
  auto fresh_served = [&] { return one_request(port, fresh, why); };
  {
    background_certherd run({"run"}, env, tmp / "run1.log");
    ASSERT_TRUE(eventually(
        [&] {
          return run.count("event=pushed cert=" + fresh) == 1 && run.count("event=conflict") >= 2;
        },
        40s))
        << run.log();
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
    EXPECT_EQ(run.count("event=conflict cert=" + bought), 1) << run.log();
    EXPECT_EQ(run.count("event=conflict cert=" + bound), 1) << run.log();
  }
  EXPECT_EQ(slurp(tmp / (bought + ".pem")), bought_pem) << "the bought certificate is untouched";
  EXPECT_EQ(slurp(tmp / (bound + ".pem")), bound_pem);
  EXPECT_EQ(one_request(port, bought, why), fp_of(bought_pem)) << why;
  EXPECT_EQ(one_request(port, bound, why), fp_of(bound_pem)) << why;
  EXPECT_FALSE(fresh_served().empty());
  EXPECT_NE(slurp(tmp / ".certherd-owned").find(fresh + ".pem"), std::string::npos);
  EXPECT_EQ(slurp(tmp / ".certherd-owned").find(bought + ".pem"), std::string::npos);

  // ADOPT_FOREIGN: the bought certificate (listed in the crt-list) is replaced; the one the
  // frontend binds by itself still is not.
  env.emplace_back("ADOPT_FOREIGN", "true");
  {
    background_certherd run({"run"}, env, tmp / "run2.log");
    ASSERT_TRUE(eventually([&] { return run.count("event=pushed cert=" + bought) == 1; }, 40s))
        << run.log();
    ASSERT_TRUE(eventually([&] { return run.count("event=conflict cert=" + bound) >= 1; }, 20s))
        << run.log();
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
  }
  EXPECT_NE(slurp(tmp / (bought + ".pem")), bought_pem);
  EXPECT_NE(one_request(port, bought, why), fp_of(bought_pem));
  EXPECT_EQ(slurp(tmp / (bound + ".pem")), bound_pem) << "bound by the frontend: never touched";
  EXPECT_EQ(one_request(port, bound, why), fp_of(bound_pem)) << why;
}

}  // namespace
}  // namespace certherd::testing

namespace certherd::testing {
namespace {

// Issue 10: with PLACEHOLDERS=true a host is served a self-signed placeholder by HAProxy (through
// its runtime API) and by the files while no certificate can be issued yet, and the real
// certificate replaces it once the CA answers.
TEST(Haproxy, PlaceholderServesUntilTheRealCertificateArrives) {
  temp_dir tmp;
  haproxy_process hap(tmp / "haproxy");
  std::string host = unique_name("placeholder");
  env_list env{{"DOMAINS", host},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
               {"OUTPUT_DIR", (tmp / "out").string()},
               {"HAPROXY_SOCKET", (hap.dir / "admin.sock").string()},
               {"HAPROXY_CRT_LIST", (hap.dir / "crt-list.txt").string()},
               {"HAPROXY_CERT_DIR", (hap.dir / "certs").string()},
               {"PLACEHOLDERS", "true"}};
  auto held = [&]() -> std::optional<pki::certificate> {
    auto chain = pki::parse_pem_chain(slurp(tmp / "out" / host / "cert.pem"));
    if (!chain) return std::nullopt;
    return chain->front();
  };
  std::string why;
  {
    // A CA nobody answers for: every order fails, and the placeholder is all there is.
    auto first = env;
    first.emplace_back("ACME_DIRECTORY", fmt::format("https://localhost:{}/dir", free_port()));
    first.emplace_back("STATE_DIR", (tmp / "state-1").string());
    background_certherd run({"run"}, first, tmp / "run1.log");
    ASSERT_TRUE(eventually(
        [&] {
          auto c = held();
          return c && served_fingerprint(hap.port, host, why) == c->fingerprint_sha256();
        },
        60s))
        << why << run.log();
    auto placeholder = *held();
    EXPECT_TRUE(placeholder.is_self_issued());
    EXPECT_EQ(placeholder.subject_alt_names(), std::vector<std::string>{host});
    EXPECT_EQ(run.count("event=placeholder_pushed"), 2) << "one placeholder, to files and HAProxy";
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(60s), 0) << run.log();
  }
  // The CA answers: the real certificate replaces the placeholder in both targets.
  auto second = env;
  second.emplace_back("ACME_DIRECTORY", harness("CERTHERD_TEST_DIRECTORY"));
  second.emplace_back("STATE_DIR", (tmp / "state-2").string());
  background_certherd run({"run"}, second, tmp / "run2.log");
  ASSERT_TRUE(eventually(
      [&] {
        auto c = held();
        return c && !c->is_self_issued() &&
               served_fingerprint(hap.port, host, why) == c->fingerprint_sha256();
      },
      60s))
      << why << run.log();
  EXPECT_EQ(verify_against(slurp(tmp / "out" / host / "cert.pem"),
                           slurp(tmp / "out" / host / "chain.pem"), harness("CERTHERD_TEST_ROOT")),
            "");
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0) << run.log();
}

}  // namespace
}  // namespace certherd::testing
