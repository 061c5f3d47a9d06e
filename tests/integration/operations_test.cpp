// Operating certherd: /metrics scraped during a real issuance against Pebble and read as the
// Prometheus text format (values checked, not just names); /readyz and /status; the status page
// loaded in real headless Chromium (Debian's package), checked for every certificate and saved
// as a screenshot; a run with an EAB secret, a Rancher secret key (the Rancher SIMULATOR,
// tests/sim, stands in for Rancher 1.x) and private keys on disk whose logs, metrics, status and
// page hold none of them; and the server's limits against oversized headers, slow and idle clients.
#include "pki/certificate.hpp"
#include "pki/encoding.hpp"
#include "rancher_sim_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <sys/wait.h>
#include <array>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
struct http_answer {
  int status = 0;
  std::string body;
  std::string raw;  ///< status line, headers and body as received
};

// One plain GET to 127.0.0.1:port, read to the end (Connection: close).
http_answer get(unsigned short port, const std::string& path, const std::string& headers = "") {
  try {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    std::string req =
        fmt::format("GET {} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n", path, headers);
    asio::write(s, asio::buffer(req));
    std::string raw;
    boost::system::error_code ec;
    asio::read(s, asio::dynamic_buffer(raw), ec);
    http_answer a;
    if (raw.size() < 12) return a;
    a.status = std::stoi(raw.substr(9, 3));
    auto body = raw.find("\r\n\r\n");
    if (body != std::string::npos) a.body = raw.substr(body + 4);
    a.raw = std::move(raw);
    return a;
  } catch (const std::exception&) {
    return {};
  }
}

// The Prometheus text format: `name{labels} value` per sample, '#' lines skipped. Keys are the
// name with its labels sorted as printed ("certherd_x{a=\"1\",b=\"2\"}").
std::map<std::string, double> parse_exposition(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (\S+)$)");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    out[m[1]] = std::stod(m[3]);
  }
  return out;
}

env_list base_env(const temp_dir& tmp, const std::string& domains, unsigned short port) {
  return {{"DOMAINS", domains},
          {"ACME_DIRECTORY", harness("CERTHERD_TEST_DIRECTORY")},
          {"ACME_ROOTS", harness("CERTHERD_TEST_ROOT")},
          {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
          {"STATE_DIR", (tmp / "state").string()},
          {"OUTPUT_DIR", (tmp / "out").string()},
          {"LISTEN", fmt::format("127.0.0.1:{}", port)}};
}

TEST(Operations, MetricsDuringARealIssuance) {
  temp_dir tmp;
  unsigned short port = free_port();
  std::vector<std::string> hosts{unique_name("m-a"), unique_name("m-b"), unique_name("m-c")};
  background_certherd run({"run"}, base_env(tmp, fmt::format("{}", fmt::join(hosts, ",")), port),
                          tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/healthz").status == 200; }, 10s)) << run.log();
  // Scrapes while certificates are being issued must parse too.
  std::map<std::string, double> m;
  ASSERT_TRUE(eventually(
      [&] {
        auto a = get(port, "/metrics");
        if (a.status != 200) return false;
        m = parse_exposition(a.body);
        return m["certherd_ready"] == 1;
      },
      60s))
      << run.log();
  EXPECT_EQ(get(port, "/readyz").status, 200);
  EXPECT_EQ(m["certherd_certificates_managed"], 3);
  double orders = 0, finalizes = 0, latency_count = 0;
  for (const auto& [k, v] : m) {
    if (k.starts_with("certherd_acme_client_requests_total{endpoint=\"newOrder\",status=\"201\""))
      orders += v;
    // Pebble rejects 5 % of nonces: a retried request counts once per answer, so only the
    // successful ones are one per certificate.
    if (k.starts_with("certherd_acme_client_requests_total{endpoint=\"finalize\",status=\"200\""))
      finalizes += v;
    if (k.starts_with("certherd_acme_client_request_duration_seconds_count")) latency_count += v;
  }
  EXPECT_EQ(orders, 3);
  EXPECT_EQ(finalizes, 3);
  double requests = 0;
  for (const auto& [k, v] : m)
    if (k.starts_with("certherd_acme_client_requests_total")) requests += v;
  EXPECT_EQ(latency_count, requests) << "every request timed once";
  for (const auto& h : hosts) {
    auto chain = pki::parse_pem_chain(slurp(tmp / "out" / h / "fullchain.pem"));
    ASSERT_TRUE(chain);
    auto not_after = chain->front().not_after().time_since_epoch().count();
    EXPECT_EQ(m[fmt::format("certherd_certificate_expiration_timestamp_seconds{{name=\"{}\"}}", h)],
              static_cast<double>(not_after));
    double renewal =
        m[fmt::format("certherd_certificate_renewal_timestamp_seconds{{name=\"{}\"}}", h)];
    EXPECT_LT(renewal, static_cast<double>(not_after));
    EXPECT_GT(renewal, static_cast<double>(not_after) - 45 * 86400) << "1/3 of 90 days";
    EXPECT_EQ(
        m[fmt::format("certherd_certificate_ready_status{{condition=\"True\",name=\"{}\"}}", h)],
        1);
    EXPECT_EQ(m[fmt::format("certherd_certificate_failures{{name=\"{}\"}}", h)], 0);
  }
  EXPECT_EQ(m["certherd_reconciles_total{result=\"failed\"}"], 0);

  // /status says the same in JSON.
  auto status = get(port, "/status");
  ASSERT_EQ(status.status, 200);
  rapidjson::Document doc;
  doc.Parse(status.body.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc["certificates"].Size(), 3u);
  for (const auto& c : doc["certificates"].GetArray()) {
    EXPECT_STREQ(c["state"].GetString(), "ready");
    EXPECT_STREQ(c["classification"].GetString(), "custom");
    EXPECT_STREQ(c["sources"][0].GetString(), "DOMAINS");
  }
  EXPECT_EQ(get(port, "/nothing").status, 404);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

TEST(Operations, StatusPageInHeadlessChromium) {
  temp_dir tmp;
  unsigned short port = free_port();
  std::vector<std::string> hosts{unique_name("page-a"), unique_name("page-b")};
  auto env = base_env(tmp, fmt::format("{},{}", hosts[0], hosts[1]), port);
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/readyz").status == 200; }, 60s)) << run.log();
  std::string artifacts = std::string(CERTHERD_ARTIFACT_DIR);
  std::filesystem::create_directories(artifacts);
  std::string shot = artifacts + "/status-page.png";
  std::filesystem::remove(shot);
  // Both are ready: the default page counts them; ?state=ready lists them.
  std::string url = fmt::format("http://127.0.0.1:{}/?state=ready", port);
  std::string flags = fmt::format(
      "--headless=new --no-sandbox --disable-gpu --hide-scrollbars "
      "--user-data-dir={} --window-size=412,915",
      (tmp / "chromium").string());
  auto dom_file = tmp / "dom.html";
  int rc = std::system(
      fmt::format("chromium {} --dump-dom {} > {} 2>/dev/null", flags, url, dom_file.string())
          .c_str());
  ASSERT_EQ(rc, 0) << "chromium --dump-dom failed";
  std::string dom = slurp(dom_file);
  for (const auto& h : hosts) {
    EXPECT_NE(dom.find(fmt::format("data-name=\"{}\"", h)), std::string::npos) << dom;
  }
  EXPECT_NE(dom.find("2 certificates · 0 need attention · 2 ready"), std::string::npos) << dom;
  EXPECT_NE(dom.find(">ready</span>"), std::string::npos);
  EXPECT_NE(dom.find("aria-current=\"page\">2 ready"), std::string::npos) << dom;
  rc = std::system(
      fmt::format("chromium {} --screenshot={} {} > /dev/null 2>&1", flags, shot, url).c_str());
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 5000u) << "a rendered page, not a blank one";
  std::cout << "status page screenshot: " << shot << "\n";
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
}

// A line of base64 from the middle of every private key under `dir` (PEM files, and the "key"
// of the store's JSON records): if any reached an output, a key leaked.
std::vector<std::string> key_fragments(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  auto from_pem = [&](const std::string& pem) {
    auto begin = pem.find("PRIVATE KEY-----\n");
    if (begin == std::string::npos) return;
    std::istringstream lines(pem.substr(begin + 17));
    std::vector<std::string> body;
    for (std::string line; std::getline(lines, line) && !line.starts_with("-----");)
      body.push_back(line);
    if (body.size() >= 2) out.push_back(body[body.size() / 2]);
  };
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string text = slurp(e.path());
    if (e.path().extension() == ".json") {
      rapidjson::Document d;
      d.Parse(text.c_str());
      if (!d.HasParseError() && d.IsObject() && d.HasMember("key") && d["key"].IsString())
        from_pem(d["key"].GetString());
    } else {
      from_pem(text);
    }
  }
  return out;
}

TEST(Operations, NoSecretInLogsMetricsStatusOrPage) {
  temp_dir tmp;
  unsigned short port = free_port();
  rancher_sim sim({tmp.path(), {}});  // stands in for Rancher 1.x
  std::string host = unique_name("secret");
  sim.add_service("web", {{"com.danieldent.rancher-lets-encrypt.hosts", host}});
  env_list env{{"ACME_DIRECTORY", harness("CERTHERD_TEST_EAB_DIRECTORY")},
               {"ACME_ROOTS", harness("CERTHERD_TEST_EAB_ROOT")},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"ACME_EAB_KID", harness("CERTHERD_TEST_EAB_KID")},
               {"ACME_EAB_HMAC", harness("CERTHERD_TEST_EAB_HMAC")},
               {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
               {"STATE_DIR", (tmp / "state").string()},
               {"OUTPUT_DIR", (tmp / "out").string()},
               {"CATTLE_URL", sim.cattle_url()},
               {"CATTLE_ACCESS_KEY", rancher_sim::access_key},
               {"CATTLE_SECRET_KEY", rancher_sim::secret_key},
               {"LOG_LEVEL", "debug"},
               {"LOG_FORMAT", "json"},
               {"LISTEN", fmt::format("127.0.0.1:{}", port)}};
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/readyz").status == 200; }, 60s)) << run.log();
  ASSERT_TRUE(eventually([&] { return sim.certificate_named(host).has_value(); }, 30s))
      << run.log();
  std::string everything =
      run.log() + get(port, "/metrics").body + get(port, "/status").body + get(port, "/").body;
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  everything += run.log();
  std::vector<std::string> secrets{
      harness("CERTHERD_TEST_EAB_HMAC"), rancher_sim::secret_key,
      pki::base64_encode(std::string(rancher_sim::access_key) + ":" + rancher_sim::secret_key)};
  auto fragments = key_fragments(tmp / "state");
  ASSERT_GE(fragments.size(), 2u) << "the account key and the certificate's key";
  secrets.insert(secrets.end(), fragments.begin(), fragments.end());
  for (const auto& s : secrets) {
    EXPECT_EQ(everything.find(s), std::string::npos) << "leaked: " << s.substr(0, 6) << "…";
  }
  EXPECT_EQ(everything.find("PRIVATE KEY"), std::string::npos);
  // Every log line is one JSON object.
  std::istringstream lines(run.log());
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    EXPECT_FALSE(d.HasParseError()) << line;
  }
  EXPECT_GT(n, 5);
}

// Issue 9, defect 13: STATUS_TOKEN guards /status and the page (the rest stays open for
// probes and Prometheus), and however many requests come, /status is rendered at most once a
// second.
TEST(Operations, StatusTokenAndRenderingBound) {
  temp_dir tmp;
  unsigned short port = free_port();
  std::string host = unique_name("token");
  const std::string token = "0123456789abcdef-not-a-real-token";
  auto env = base_env(tmp, host, port);
  env.emplace_back("STATUS_TOKEN", token);
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/readyz").status == 200; }, 60s)) << run.log();
  const std::string bearer = "Authorization: Bearer " + token + "\r\n";
  EXPECT_EQ(get(port, "/status").status, 401);
  EXPECT_EQ(get(port, "/").status, 401);
  EXPECT_EQ(get(port, "/status", "Authorization: Bearer wrong-token-of-some-length\r\n").status,
            401);
  EXPECT_EQ(get(port, "/status", "Authorization: Basic " + token + "\r\n").status, 401);
  EXPECT_EQ(get(port, "/healthz").status, 200);
  EXPECT_EQ(get(port, "/metrics").status, 200);
  auto status = get(port, "/status", bearer);
  EXPECT_EQ(status.status, 200);
  EXPECT_NE(status.body.find(host), std::string::npos);
  EXPECT_EQ(get(port, "/", "authorization: bearer " + token + "\r\n").status, 200);
  // What a browser sends after its password prompt.
  EXPECT_EQ(
      get(port, "/", "Authorization: Basic " + pki::base64_encode("ops:" + token) + "\r\n").status,
      200);
  auto refused = get(port, "/");
  EXPECT_NE(refused.raw.find("WWW-Authenticate: Basic"), std::string::npos) << refused.raw;

  // One certificate's page needs the token too; a bad filter is named, not ignored.
  EXPECT_EQ(get(port, "/status/" + host).status, 401);
  auto one = get(port, "/status/" + host, bearer);
  EXPECT_EQ(one.status, 200);
  EXPECT_NE(one.body.find("\"decisions\""), std::string::npos) << one.body;
  EXPECT_EQ(get(port, "/status/not-" + host, bearer).status, 404);
  auto bad = get(port, "/status?state=broken", bearer);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("state: 'broken' is not one of"), std::string::npos) << bad.body;
  EXPECT_EQ(get(port, "/?page=0", bearer).status, 400);

  // A burst of requests: the whole /status is put together at most once a second, not once per
  // request; a filtered one (small) each time.
  auto renders = [&] {
    auto m = parse_exposition(get(port, "/metrics").body);
    return m["certherd_status_renders_total"];
  };
  double before = renders();
  auto start = std::chrono::steady_clock::now();
  int answered = 0;
  for (int i = 0; i < 300; ++i)
    answered += get(port, "/status", bearer).status == 200;
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(answered, 300);
  EXPECT_LE(renders() - before, seconds + 2) << "300 requests in " << seconds << " s";
  before = renders();
  EXPECT_EQ(get(port, "/status?state=ready", bearer).status, 200);
  EXPECT_EQ(renders() - before, 1);

  // `certherd status` asks the running instance with the token from its environment.
  background_certherd asked({"status", "--listen", fmt::format("127.0.0.1:{}", port)},
                            {{"STATUS_TOKEN", token}}, tmp / "status.log");
  EXPECT_EQ(asked.wait(30s), 0) << asked.log();
  EXPECT_NE(asked.log().find("1 certificate: 1 ready"), std::string::npos) << asked.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  EXPECT_EQ(run.log().find(token), std::string::npos) << "the token reached the log";
}

TEST(Operations, ServerLimitsDoNotStallTheController) {
  temp_dir tmp;
  unsigned short port = free_port();
  std::string host = unique_name("limits");
  background_certherd run({"run"}, base_env(tmp, host, port), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/healthz").status == 200; }, 10s));

  asio::io_context ioc;
  auto connect = [&] {
    auto s = std::make_unique<tcp::socket>(ioc);
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return s;
  };
  // An oversized header is refused with 431.
  {
    auto s = connect();
    std::string req =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(16000, 'a') + "\r\n\r\n";
    boost::system::error_code ec;
    asio::write(*s, asio::buffer(req), ec);
    std::string raw;
    asio::read(*s, asio::dynamic_buffer(raw), ec);
    EXPECT_NE(raw.find("431"), std::string::npos) << raw.substr(0, 100);
  }
  // Two hundred idle connections and a slowloris client that never finishes its header.
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 200; ++i) {
    try {
      idle.push_back(connect());
    } catch (const std::exception&) {
      break;  // refused beyond the cap: also fine
    }
  }
  auto slow = connect();
  asio::write(*slow, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  // The server still answers, and the controller still issues.
  EXPECT_TRUE(eventually([&] { return get(port, "/healthz").status == 200; }, 5s));
  // The cap holds: certherd keeps no more than 64 client sockets whatever connects (the rest
  // of its sockets: the listener, Pebble, the webroot probe — a handful).
  auto sockets = [&] {
    int n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", run.pid()))) {
      std::error_code ec;
      auto target = std::filesystem::read_symlink(e.path(), ec);
      n += !ec && target.string().starts_with("socket:");
    }
    return n;
  };
  EXPECT_LE(sockets(), 64 + 16) << "with " << idle.size() << " idle clients connected";
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(tmp / "out" / host / "cert.pem"); }, 60s))
      << run.log();
  // The slow client is cut off at the read deadline (10 s), not kept forever.
  boost::system::error_code ec;
  for (int i = 0; i < 30 && !ec; ++i) {
    asio::write(*slow, asio::buffer(std::string("X-Drip: 1\r\n")), ec);
    if (!ec) std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(ec) << "the server never closed a client that sent a header for 30 s";
  EXPECT_EQ(get(port, "/healthz").status, 200);

  // The same on a kept-alive connection: one good request, then a second that only drips.
  idle.clear();
  auto kept = connect();
  asio::write(*kept, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::array<char, 512> answer{};
  auto n = kept->read_some(asio::buffer(answer));
  EXPECT_NE(std::string(answer.data(), n).find("200 OK"), std::string::npos);
  asio::write(*kept, asio::buffer(std::string("GET /healthz HTTP/1.1\r\n")));
  ec.clear();
  for (int i = 0; i < 30 && !ec; ++i) {
    asio::write(*kept, asio::buffer(std::string("X-Drip: 1\r\n")), ec);
    if (!ec) std::this_thread::sleep_for(1s);
  }
  EXPECT_TRUE(ec) << "a kept-alive connection dripped a header for 30 s";
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

}  // namespace
}  // namespace certherd::testing

namespace certherd::testing {
namespace {

// The operator's commands against the real Pebble: status (store and running instance), renew,
// renew --force, revoke, and their wrong usage.
TEST(Commands, StatusRenewRevoke) {
  temp_dir tmp;
  unsigned short port = free_port();
  std::string host = unique_name("ops");
  auto env = base_env(tmp, host, port);
  auto with_env = [&](std::vector<std::string> args) {
    std::string line;
    for (const auto& [k, v] : env)
      line += k + "='" + v + "' ";
    for (const auto& a : args)
      line += " '" + a + "'";
    return line;
  };
  auto sh = [&](const std::vector<std::string>& args, std::string& out) {
    // `timeout`: a command that never ends is a failure, not a hung test run.
    std::string cmd = with_env({}) + " timeout 60 " + CERTHERD_BINARY;
    for (const auto& a : args)
      cmd += " '" + a + "'";
    cmd += " 2>&1";
    out.clear();
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p))
      out.append(buf, n);
    int st = ::pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string out;
  // Nothing held yet: status says so and fails.
  EXPECT_EQ(sh({"status", "--listen", ""}, out), 1) << out;
  // renew of an unmanaged name is wrong usage; of a managed one, it issues.
  EXPECT_EQ(sh({"renew", "not-managed.example.com"}, out), 2) << out;
  EXPECT_NE(out.find("not a managed certificate"), std::string::npos) << out;
  ASSERT_EQ(sh({"renew", host}, out), 0) << out;
  auto fingerprint = [&] {
    auto c = pki::parse_pem_chain(slurp(tmp / "out" / host / "cert.pem"));
    return c ? c->front().fingerprint_sha256() : std::string();
  };
  std::string first = fingerprint();
  ASSERT_FALSE(first.empty());
  // Not due: renew changes nothing; --force replaces it.
  ASSERT_EQ(sh({"renew", host}, out), 0) << out;
  EXPECT_EQ(fingerprint(), first);
  ASSERT_EQ(sh({"renew", host, "--force"}, out), 0) << out;
  std::string second = fingerprint();
  EXPECT_NE(second, first);
  // Revoke: at the CA, then replaced at once.
  EXPECT_EQ(sh({"revoke", host, "--reason", "bogus"}, out), 2) << out;
  ASSERT_EQ(sh({"revoke", host, "--reason", "superseded"}, out), 0) << out;
  EXPECT_NE(out.find("revoked at"), std::string::npos) << out;
  std::string third = fingerprint();
  EXPECT_NE(third, second);
  // status from the store, in JSON: one ready certificate.
  ASSERT_EQ(sh({"status", "--listen", "", "--json"}, out), 0) << out;
  EXPECT_NE(out.find("\"name\":\"" + host + "\",\"state\":\"ready\""), std::string::npos) << out;
  // status from the running instance.
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return get(port, "/readyz").status == 200; }, 30s)) << run.log();
  ASSERT_EQ(sh({"status"}, out), 0) << out;
  EXPECT_NE(out.find("from the running instance"), std::string::npos) << out;
  // A summary by state; a ready certificate is counted, listed with --all or a filter.
  EXPECT_NE(out.find("1 certificate: 1 ready"), std::string::npos) << out;
  EXPECT_EQ(out.find(host), std::string::npos) << out;
  EXPECT_NE(out.find("1 ready certificate not listed (--all lists them)"), std::string::npos)
      << out;
  ASSERT_EQ(sh({"status", "--all"}, out), 0) << out;
  EXPECT_NE(out.find(host), std::string::npos) << out;
  ASSERT_EQ(sh({"status", "--query", host.substr(0, 12)}, out), 0) << out;
  EXPECT_NE(out.find(host), std::string::npos) << out;
  ASSERT_EQ(sh({"status", "--state", "failing", "--json"}, out), 0) << out;
  EXPECT_EQ(out, "[]\n");
  EXPECT_EQ(sh({"status", "--state", "sideways"}, out), 2) << out;
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0);
  // With the built-in responder (no webroot) renew must end, not wait on its listener forever.
  std::string host2 = unique_name("ops-responder");
  env = {{"DOMAINS", host2},
         {"ACME_DIRECTORY", harness("CERTHERD_TEST_RESPONDER_DIRECTORY")},
         {"ACME_ROOTS", harness("CERTHERD_TEST_RESPONDER_ROOT")},
         {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
         {"CHALLENGE_LISTEN", harness("CERTHERD_TEST_RESPONDER_LISTEN")},
         {"SELF_CHECK_ADDRESS", harness("CERTHERD_TEST_RESPONDER_LISTEN")},
         {"STATE_DIR", (tmp / "state2").string()},
         {"OUTPUT_DIR", (tmp / "out2").string()}};
  ASSERT_EQ(sh({"renew", host2}, out), 0) << out;
  ASSERT_EQ(sh({"revoke", host2}, out), 0) << out;
  EXPECT_NE(out.find("replacement asked for: revoked"), std::string::npos) << out;
  // Wrong usage: a missing name, an unknown flag.
  EXPECT_EQ(sh({"renew"}, out), 2) << out;
  EXPECT_EQ(sh({"revoke"}, out), 2) << out;
  EXPECT_EQ(sh({"status", "--bogus"}, out), 2) << out;
  EXPECT_EQ(sh({"plan", "--staging", "perhaps"}, out), 2) << out;
  EXPECT_NE(out.find("STAGING='perhaps'"), std::string::npos) << out;
  ASSERT_EQ(sh({"version"}, out), 0) << out;
  EXPECT_TRUE(out.starts_with("certherd ")) << out;
  ASSERT_EQ(sh({"--help"}, out), 0) << out;
  for (const char* sub : {"issue", "run", "plan", "status", "renew", "revoke", "version"})
    EXPECT_NE(out.find(sub), std::string::npos) << sub << " missing from --help";
}

}  // namespace
}  // namespace certherd::testing

namespace certherd::testing {
namespace {

// CHALLENGE_LISTEN equal to LISTEN: one port answers the CA's HTTP-01 requests and /metrics.
TEST(Operations, ChallengesAndStatusOnOnePort) {
  temp_dir tmp;
  std::string listen = harness("CERTHERD_TEST_RESPONDER_LISTEN");
  auto port = static_cast<unsigned short>(std::stoi(listen.substr(listen.rfind(':') + 1)));
  std::string host = unique_name("oneport");
  env_list env{{"DOMAINS", host},
               {"ACME_DIRECTORY", harness("CERTHERD_TEST_RESPONDER_DIRECTORY")},
               {"ACME_ROOTS", harness("CERTHERD_TEST_RESPONDER_ROOT")},
               {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
               {"CHALLENGE_LISTEN", listen},
               {"SELF_CHECK_ADDRESS", listen},
               {"LISTEN", listen},
               {"STATE_DIR", (tmp / "state").string()},
               {"OUTPUT_DIR", (tmp / "out").string()}};
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(
      eventually([&] { return std::filesystem::exists(tmp / "out" / host / "cert.pem"); }, 60s))
      << run.log();
  EXPECT_EQ(get(port, "/healthz").status, 200);
  EXPECT_EQ(get(port, "/.well-known/acme-challenge/unknown-token").status, 404);
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
}

}  // namespace
}  // namespace certherd::testing
