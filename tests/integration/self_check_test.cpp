// Issue 11 §3, the HTTP-01 self-check, against real servers: the checker (clients/acme/
// self_checker.hpp) fetching through a private nginx that serves, misroutes, redirects by every
// rule the CA has, and is down; then `certherd run` against a private Pebble that validates on
// that nginx's port, counting at Pebble what reached its validator. nginx (a private instance,
// so the harness's stays as it is for the other tests) and Pebble are Debian's.
#include "clients/acme/http01.hpp"
#include "clients/acme/self_checker.hpp"
#include "nginx_process.hpp"
#include "pebble_process.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace asio = boost::asio;

// One server block per behaviour; all on the private nginx's port, told apart by Host.
std::string servers(const fs::path& webroot, const fs::path& empty) {
  const std::string serve =
      fmt::format("root {}; location /.well-known/acme-challenge/ {{ default_type text/plain; }}",
                  webroot.string());
  std::string s;
  auto server = [&](const std::string& name, const std::string& body) {
    s += fmt::format("  server {{ listen 127.0.0.1:@PORT@; server_name {}; {} }}\n", name, body);
  };
  server("good.example.com", serve);
  server("moved.example.com", "location / { return 301 http://good.example.com$request_uri; }");
  server("relative.example.com",
         fmt::format("absolute_redirect off; "  // a Location of a path alone
                     "location /.well-known/ {{ return 302 /moved-here$request_uri; }} "
                     "location /moved-here/ {{ alias {}/; default_type text/plain; }}",
                     webroot.string()));
  server("missing.example.com", fmt::format("root {};", empty.string()));
  server("stale.example.com",
         "location / { default_type text/plain; return 200 \"other-token.thumbprint\"; }");
  server("wrong.example.com",
         "location / { default_type text/plain; return 200 \"not-the-key\\n\"; }");
  // A redirect may lead anywhere, an internal service too: what it says stays out of the reason.
  server("html.example.com",
         "location / { default_type text/html; return 200 \"<html>internal secret</html>\"; }");
  server("ftp.example.com", "location / { return 301 ftp://good.example.com$request_uri; }");
  server("ip.example.com", "location / { return 301 http://127.0.0.1$request_uri; }");
  server("port.example.com", "location / { return 301 http://good.example.com:8080$request_uri; }");
  server("loop.example.com", "location / { return 302 http://loop.example.com$request_uri; }");
  return s;
}

class SelfCheck : public ::testing::Test {
 protected:
  SelfCheck() : nginx_(tmp_ / "nginx"), presenter_(tmp_ / "webroot") {
    fs::create_directories(tmp_ / "empty");
    fs::create_directories(tmp_ / "webroot");
    nginx_.start(servers(tmp_ / "webroot", tmp_ / "empty"));
    std::string detail;
    EXPECT_FALSE(presenter_.present({"good.example.com", kToken, kKeyAuthorization}, detail))
        << detail;
  }

  // The checker's verdict on `host` (nothing: it answered the key authorization).
  std::optional<std::string> check(const std::string& host, const std::string& address) {
    asio::io_context ioc;
    acme::self_check_options o;
    o.address = address;
    o.route_hint = "the webroot";
    acme::http01_self_checker checker(ioc.get_executor(), o);
    auto done = asio::co_spawn(ioc,
                               checker.async_check({host, kToken, kKeyAuthorization},
                                                   std::chrono::steady_clock::now() + 60s),
                               asio::use_future);
    ioc.run();
    return done.get();
  }

  static constexpr const char* kToken = "tok-self-check_0";
  static constexpr const char* kKeyAuthorization = "tok-self-check_0.thumbprint";
  temp_dir tmp_;
  nginx_process nginx_;
  acme::webroot_presenter presenter_;
};

TEST_F(SelfCheck, AnswersWhereTheCaWouldSeeTheKeyAuthorization) {
  EXPECT_EQ(check("good.example.com", nginx_.address()), std::nullopt);
  EXPECT_EQ(check("moved.example.com", nginx_.address()), std::nullopt) << "an absolute redirect";
  EXPECT_EQ(check("relative.example.com", nginx_.address()), std::nullopt) << "a relative redirect";
  // As the CA asks: the name as Host, on the path of the challenge, with the agent it names.
  auto log = nginx_.access_log();
  EXPECT_NE(log.find(fmt::format("good.example.com \"GET /.well-known/acme-challenge/{} HTTP/1.1\" "
                                 "200 \"certherd self-check",
                                 kToken)),
            std::string::npos)
      << log;
}

TEST_F(SelfCheck, SaysWhatWasWrongInWordsAPersonCanActOn) {
  struct row {
    std::string host;
    std::vector<std::string> says;
  };
  const std::string at = "from " + nginx_.address();
  for (const auto& r : std::vector<row>{
           {"missing.example.com",
            {"missing.example.com answered 404 " + at,
             "is /.well-known/acme-challenge/ on missing.example.com routed to the webroot?"}},
           {"wrong.example.com",
            {"answered 200 " + at, "not with the key authorization",
             "it sent 12 bytes of text/plain"}},
           {"stale.example.com",
            {"answered 200 " + at, "it sent the key authorization of another token, other-token"}},
           {"html.example.com", {"answered 200 " + at, "it sent 28 bytes of text/html"}},
           {"ftp.example.com", {"answered 301 " + at, "only http and https"}},
           {"ip.example.com", {"only to names, not IP addresses"}},
           {"port.example.com", {"only to ports 80 and 443"}},
           {"loop.example.com", {"redirected more than 10 times"}},
       }) {
    auto why = check(r.host, nginx_.address());
    ASSERT_TRUE(why) << r.host << " passed";
    std::cout << r.host << ": " << *why << "\n";
    for (const auto& fragment : r.says)
      EXPECT_NE(why->find(fragment), std::string::npos) << r.host << ": " << *why;
    EXPECT_EQ(why->find(kKeyAuthorization), std::string::npos) << "never the expected answer";
    EXPECT_EQ(why->find("secret"), std::string::npos) << "never what another server said";
  }
}

TEST_F(SelfCheck, ADownServerAndANameThatDoesNotResolveAreSaidSo) {
  nginx_.stop();
  auto down = check("good.example.com", nginx_.address());
  ASSERT_TRUE(down);
  EXPECT_NE(down->find("no answer from good.example.com at " + nginx_.address()), std::string::npos)
      << *down;
  EXPECT_NE(down->find("Connection refused"), std::string::npos) << *down;
  // Without SELF_CHECK_ADDRESS the name's own records are used, as the CA does.
  auto unknown = check("certherd-self-check.invalid", "");
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->find("certherd-self-check.invalid does not resolve here"), std::string::npos)
      << *unknown;
  EXPECT_NE(unknown->find("SELF_CHECK_ADDRESS"), std::string::npos) << "the way out is named";
}

// `certherd run` against a private Pebble that validates on the private nginx's port: a route
// that is wrong or a server that is down never reaches Pebble's validator, and /status says
// why; without the self-check the same route costs a failed validation at Pebble.
class SelfCheckRun : public ::testing::Test {
 protected:
  SelfCheckRun()
      : nginx_(tmp_ / "nginx"),
        ca_({.dir = tmp_ / "pebble", .authz_reuse_percent = 0, .http_port = nginx_.port()}) {
    fs::create_directories(tmp_ / "webroot");
    fs::create_directories(tmp_ / "elsewhere");
  }

  std::string serving(const fs::path& root) {
    return fmt::format(
        "  server {{ listen 127.0.0.1:@PORT@; root {}; "
        "location /.well-known/acme-challenge/ {{ default_type text/plain; }} }}\n",
        root.string());
  }

  struct outcome {
    std::string log, status;
  };
  // One certherd run for `host` until its first order ends; what it logged and what /status said.
  outcome run_once(const std::string& host, bool self_check) {
    auto listen = free_port();
    env_list env{{"DOMAINS", host},
                 {"ACME_DIRECTORY", ca_.directory_url()},
                 {"ACME_ROOTS", ca_.root_file().string()},
                 {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
                 {"WEBROOT", (tmp_ / "webroot").string()},
                 {"SELF_CHECK", self_check ? "true" : "false"},
                 {"SELF_CHECK_ADDRESS", nginx_.address()},
                 {"LISTEN", fmt::format("127.0.0.1:{}", listen)},
                 {"STATE_DIR", (tmp_ / ("state-" + host)).string()},
                 {"OUTPUT_DIR", (tmp_ / "out").string()}};
    background_certherd run({"run"}, env, tmp_ / (host + ".log"));
    EXPECT_TRUE(eventually(
        [&] { return run.count("event=issue_failed") + run.count("event=issued") >= 1; }, 60s))
        << run.log();
    outcome o{run.log(), loopback_call(listen, "GET", "/status").body};
    run.signal(SIGTERM);
    EXPECT_EQ(run.wait(40s), 0) << run.log();
    return o;
  }

  temp_dir tmp_;
  nginx_process nginx_;
  pebble_process ca_;
};

TEST_F(SelfCheckRun, NginxDownOrMisroutedCostsNoValidationAndStatusSaysWhy) {
  // Down: nothing listens where the CA would look.
  std::string down = unique_name("sc-down");
  auto d = run_once(down, true);
  EXPECT_NE(d.log.find("event=issue_failed cert=" + down + " kind=challenge_setup"),
            std::string::npos)
      << d.log;
  EXPECT_NE(d.status.find("no answer from " + down + " at " + nginx_.address()), std::string::npos)
      << d.status;
  EXPECT_NE(d.status.find("the CA was not asked to validate"), std::string::npos) << d.status;
  EXPECT_EQ(ca_.validations_of(down), 0) << ca_.log();

  // Misrouted: nginx answers, from a root that is not the webroot.
  nginx_.start(serving(tmp_ / "elsewhere"));
  std::string misrouted = unique_name("sc-misrouted");
  auto m = run_once(misrouted, true);
  EXPECT_NE(m.status.find(misrouted + " answered 404 from " + nginx_.address()), std::string::npos)
      << m.status;
  EXPECT_NE(m.status.find("routed to the web server of the webroot (WEBROOT="), std::string::npos)
      << m.status;
  EXPECT_EQ(ca_.validations_of(misrouted), 0) << ca_.log();

  // What the self-check saved: the same route, unchecked, is a failed validation at Pebble.
  std::string unchecked = unique_name("sc-unchecked");
  auto u = run_once(unchecked, false);
  EXPECT_NE(u.log.find("event=issue_failed cert=" + unchecked + " kind=validation"),
            std::string::npos)
      << u.log;
  EXPECT_GE(ca_.validations_of(unchecked), 1) << "Pebble's log is read right: " << ca_.log();

  // Routed right: the self-check passes and Pebble validates and issues.
  nginx_.stop();
  nginx_.start(serving(tmp_ / "webroot"));
  std::string fixed = unique_name("sc-fixed");
  auto f = run_once(fixed, true);
  EXPECT_NE(f.log.find("event=issued cert=" + fixed), std::string::npos) << f.log;
  EXPECT_GE(ca_.validations_of(fixed), 1);
  EXPECT_GE(ca_.orders(), 4) << "every run reached the CA and ordered";
}

}  // namespace
}  // namespace certherd::testing
