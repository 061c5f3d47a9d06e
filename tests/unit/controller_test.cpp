// Configuration and the DOMAINS source: every bad value names its variable and what it accepts;
// every odd DOMAINS item is handled as README documents. And the work queue's guarantees.
#include "clients/log/log.hpp"
#include "controller/config.hpp"
#include "controller/domains_source.hpp"
#include "controller/logging.hpp"
#include "controller/run_command.hpp"
#include "controller/runtime.hpp"
#include "controller/work_queue.hpp"
#include "pki/encoding.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace certherd::controller {
namespace {

std::map<std::string, std::string> base() {
  return {{"WEBROOT", "/srv/www"}};
}

std::map<std::string, std::string> with(std::map<std::string, std::string> env, std::string k,
                                        std::string v) {
  env[std::move(k)] = std::move(v);
  return env;
}

std::string error_of(const std::map<std::string, std::string>& env) {
  try {
    load_config(env);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(Config, StagingTakesBooleansInAnyCase) {
  for (std::string t : {"true", "TRUE", "True", "1", "yes", "YES"}) {
    EXPECT_TRUE(load_config(with(base(), "STAGING", t)).staging) << t;
  }
  for (std::string f : {"false", "False", "0", "no", "NO"}) {
    EXPECT_FALSE(load_config(with(base(), "STAGING", f)).staging) << f;
  }
  EXPECT_TRUE(load_config(base()).staging) << "the original project's default";
  EXPECT_EQ(error_of(with(base(), "STAGING", "maybe")),
            "STAGING='maybe' is not one of true, false, 1, 0, yes, no");
}

TEST(Config, DirectoryFollowsStagingUnlessGiven) {
  EXPECT_EQ(load_config(base()).effective_directory(), kLetsEncryptStaging);
  EXPECT_EQ(load_config(with(base(), "STAGING", "false")).effective_directory(),
            kLetsEncryptProduction);
  auto custom = with(base(), "ACME_DIRECTORY", "https://ca.example/dir");
  EXPECT_EQ(load_config(custom).effective_directory(), "https://ca.example/dir");
  EXPECT_NE(error_of(with(base(), "ACME_DIRECTORY", "ca.example")).find("ACME_DIRECTORY"),
            std::string::npos);
}

TEST(Config, OriginalNamesAreAliases) {
  auto c = load_config({{"CERTBOT_WEBROOT", "/var/www"}, {"CERTBOT_EMAIL", "ops@example.com"}});
  EXPECT_EQ(c.webroot, "/var/www");
  EXPECT_EQ(c.email, "ops@example.com");
  auto both = load_config({{"CERTBOT_WEBROOT", "/old"}, {"WEBROOT", "/new"}});
  EXPECT_EQ(both.webroot, "/new") << "the newer name wins";
}

TEST(Config, BadValuesNameTheirVariable) {
  struct bad {
    std::map<std::string, std::string> env;
    std::string says;
  };
  std::vector<bad> cases{
      {{}, "WEBROOT"},
      {{{"WEBROOT", "/a"}, {"CHALLENGE_LISTEN", ":80"}}, "exclude each other"},
      {with(base(), "RENEW_BEFORE_DAYS", "soon"), "RENEW_BEFORE_DAYS='soon'"},
      {with(base(), "RENEW_BEFORE_DAYS", "0"), "RENEW_BEFORE_DAYS='0'"},
      {with(base(), "LOOP_TIME", "-1"), "LOOP_TIME"},
      {with(base(), "KEY_TYPE", "dsa"), "KEY_TYPE='dsa'"},
      {with(base(), "CONCURRENCY", "1000"), "CONCURRENCY"},
      {with(base(), "ACME_EMAIL", "not-an-address"), "ACME_EMAIL"},
      {with(base(), "ACME_EAB_KID", "kid"), "ACME_EAB_KID and ACME_EAB_HMAC"},
      // Issue 9, defect 8: an allow-list made of junk must not silently allow any domain.
      {with(base(), "ALLOWED_DOMAINS", "*."), "ALLOWED_DOMAINS"},
      {with(base(), "ALLOWED_DOMAINS", " , "), "names no domain"},
      {with(base(), "ALLOWED_DOMAINS", "example.com, exa mple.org"), "'exa mple.org'"},
      {with(base(), "ALLOWED_DOMAINS", "com"), "ALLOWED_DOMAINS item 'com'"},
      // Issue 9, defect 11: credentials in a URL are refused, in any case, and never echoed.
      {with(base(), "ACME_DIRECTORY", "https://user:hunter2@ca.example/dir"),
       "ACME_DIRECTORY must not hold credentials"},
      {with(base(), "ACME_DIRECTORY", "https://ca.example/dir@hunter2 x"), "(not shown"},
      {{{"WEBROOT", "/a"},
        {"CATTLE_URL", "HTTPS://ak:hunter2@rancher.example/v2-beta"},
        {"CATTLE_ACCESS_KEY", "a"},
        {"CATTLE_SECRET_KEY", "s"}},
       "CATTLE_URL must not hold credentials"},
      {with(base(), "ACME_EAB_HMAC_FILE", "/nonexistent/hmac"), "ACME_EAB_HMAC_FILE"},
  };
  for (const auto& c : cases) {
    auto e = error_of(c.env);
    EXPECT_NE(e.find(c.says), std::string::npos) << "got: " << e;
    EXPECT_EQ(e.find("hunter2"), std::string::npos) << "a secret was echoed: " << e;
  }
  EXPECT_EQ(load_config(with(base(), "ACME_DIRECTORY", "HTTPS://CA.example/dir")).directory,
            "https://CA.example/dir");
  EXPECT_EQ(
      load_config(with(base(), "ALLOWED_DOMAINS", "*.example.com, .example.org")).allowed_domains,
      "*.example.com, .example.org");
  auto ok = load_config(with(with(base(), "RENEW_BEFORE_DAYS", "14"), "KEY_TYPE", "rsa2048"));
  EXPECT_EQ(ok.renew_before_days, 14);
  EXPECT_EQ(ok.key_type, pki::key_type::rsa2048);
}

TEST(Config, HaproxyCertificatesGoToAFolderOfTheirOwn) {
  auto env = with(with(base(), "HAPROXY_SOCKET", "/run/haproxy/admin.sock"), "HAPROXY_CRT_LIST",
                  "/etc/haproxy/crt-list.txt");
  EXPECT_EQ(load_config(env).haproxy_cert_dir, "/etc/haproxy/certherd")
      << "never the folder of the operator's default.pem";
  EXPECT_EQ(load_config(with(env, "HAPROXY_CERT_DIR", "/srv/certs")).haproxy_cert_dir,
            "/srv/certs");
  // The paths are words of runtime-API commands: a space or ';' would split or add a command.
  for (const char* bad : {"/srv/my certs", "/srv/c;shutdown sessions", "/srv/c\nshow info"}) {
    try {
      load_config(with(env, "HAPROXY_CERT_DIR", bad));
      ADD_FAILURE() << bad << " was accepted";
    } catch (const config_error& e) {
      EXPECT_NE(std::string(e.what()).find("HAPROXY_CERT_DIR="), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "printed raw";
    }
  }
  EXPECT_THROW(load_config(with(env, "HAPROXY_CRT_LIST", "/etc/haproxy/crt list.txt")),
               config_error);
}

TEST(Domains, NormalizesAndReportsEveryOddItem) {
  auto d = parse_domains(
      " a.example.com ,B.Example.COM,,c.example.com.,*.w.example.com,10.0.0.1,"
      "a.example.com,bücher.example," +
      std::string(64, 'x') + ".example.com");
  EXPECT_EQ(d.hosts, (std::vector<std::string>{"a.example.com", "b.example.com", "c.example.com"}));
  auto has = [&](const std::string& fragment) {
    return std::any_of(d.problems.begin(), d.problems.end(),
                       [&](const std::string& p) { return p.find(fragment) != std::string::npos; });
  };
  EXPECT_TRUE(has("item 2 'B.Example.COM' is used as 'b.example.com'"));
  EXPECT_TRUE(has("item 3 is empty"));
  EXPECT_TRUE(has("item 4 'c.example.com.' is used as 'c.example.com'"));
  EXPECT_TRUE(has("item 5: '*.w.example.com': wildcard"));
  EXPECT_TRUE(has("item 6: '10.0.0.1': IP addresses"));
  EXPECT_TRUE(has("item 7: a.example.com is listed twice"));
  EXPECT_TRUE(has("punycode"));
  EXPECT_TRUE(has("at most 63"));
  EXPECT_FALSE(has("item 1")) << "surrounding spaces alone are not worth a word";
}

TEST(Domains, EmptyIsNothing) {
  EXPECT_TRUE(parse_domains("").hosts.empty());
  EXPECT_TRUE(parse_domains("").problems.empty());
  EXPECT_TRUE(parse_domains("  ").problems.empty());
}

// Issue 9, defect 6: a time far in the future (a notAfter in 9999, a bogus Retry-After) never
// becomes a zero delay that spins the event loop.
TEST(Runtime, DelayUntilNeverOverflows) {
  using namespace std::chrono_literals;
  const reconcilers::sys_seconds now{std::chrono::seconds(1'900'000'000)};
  EXPECT_EQ(delay_until(now + 90s, now), 90s);
  EXPECT_EQ(delay_until(now - 90s, now), 0s);
  EXPECT_EQ(delay_until(now, now), 0s);
  const reconcilers::sys_seconds year_9999{std::chrono::seconds(253402300799)};
  EXPECT_EQ(delay_until(year_9999, now), kLongestSleep);
  EXPECT_EQ(delay_until(reconcilers::sys_seconds::max(), now), kLongestSleep);
  EXPECT_EQ(delay_until(reconcilers::sys_seconds::min(), now), 0s);
}

TEST(StatusToken, AcceptsOnlyTheToken) {
  const std::string token = "0123456789abcdef";
  EXPECT_TRUE(status_token_accepted("", ""));
  EXPECT_TRUE(status_token_accepted("anything", ""));
  EXPECT_TRUE(status_token_accepted("Bearer 0123456789abcdef", token));
  EXPECT_TRUE(status_token_accepted("bearer 0123456789abcdef", token));
  EXPECT_FALSE(status_token_accepted("", token));
  EXPECT_FALSE(status_token_accepted("Bearer 0123456789abcde", token));
  EXPECT_FALSE(status_token_accepted("Bearer 0123456789abcdefX", token));
  EXPECT_FALSE(status_token_accepted("Bearer", token));
  EXPECT_FALSE(status_token_accepted("Bearer  0123456789abcdef", token));
  EXPECT_FALSE(status_token_accepted("Bearerx0123456789abcdef", token));
  // A browser's Basic credentials: any user, the token as the password.
  auto basic = [](std::string_view user_pass) { return "Basic " + pki::base64_encode(user_pass); };
  EXPECT_TRUE(status_token_accepted(basic("ops:0123456789abcdef"), token));
  EXPECT_TRUE(status_token_accepted(basic(":0123456789abcdef"), token));
  EXPECT_FALSE(status_token_accepted(basic("0123456789abcdef"), token));  // no colon
  EXPECT_FALSE(status_token_accepted(basic("ops:0123456789abcdeX"), token));
  EXPECT_FALSE(status_token_accepted("Basic 0123456789abcdef", token));  // not base64 of u:p
  EXPECT_FALSE(status_token_accepted("Basic !!!", token));
  EXPECT_FALSE(status_token_accepted("Digest 0123456789abcdef", token));
}

TEST(WorkQueue, DeduplicatesAndRequeuesWhatChangedWhileActive) {
  boost::asio::io_context ioc;
  work_queue q(ioc.get_executor());
  std::vector<std::string> order;
  q.push("a");
  q.push("b");
  q.push("a");  // already queued
  EXPECT_EQ(q.depth(), 2u);
  boost::asio::co_spawn(
      ioc,
      [](work_queue& q, std::vector<std::string>& order) -> boost::asio::awaitable<void> {
        while (auto name = co_await q.async_pop()) {
          order.push_back(*name);
          if (*name == "a" && order.size() == 1) q.push("a");  // changed while active
          q.done(*name);
          if (order.size() == 3) q.close();
        }
      }(q, order),
      boost::asio::detached);
  ioc.run();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "a"}));
}

TEST(WorkQueue, WorkersWaitWithoutPolling) {
  boost::asio::io_context ioc;
  work_queue q(ioc.get_executor());
  int got = 0;
  for (int w = 0; w < 3; ++w) {
    boost::asio::co_spawn(
        ioc,
        [](work_queue& q, int& got) -> boost::asio::awaitable<void> {
          while (auto name = co_await q.async_pop()) {
            ++got;
            q.done(*name);
          }
        }(q, got),
        boost::asio::detached);
  }
  ioc.poll();  // all three now wait
  EXPECT_EQ(got, 0);
  for (int i = 0; i < 5; ++i)
    q.push("n" + std::to_string(i));
  ioc.poll();
  EXPECT_EQ(got, 5);
  q.close();
  ioc.run();  // every worker ends
  EXPECT_EQ(got, 5);
}

}  // namespace
}  // namespace certherd::controller

namespace certherd::controller {
namespace {

// Issue 9, defect 5: log lines cannot be forged from label values.
TEST(Logging, ValuesAreEscapedInTextAndFieldsStayFieldsInJson) {
  std::string label = "web\ntime=2026-01-01T00:00:00Z level=error event=issued cert=evil.com";
  auto text = log::render_text("label_problem", {{"problem", label}, {"service", "a b"}});
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text,
            "event=label_problem problem=\"web\\ntime=2026-01-01T00:00:00Z level=error "
            "event=issued cert=evil.com\" service=\"a b\"");
  EXPECT_EQ(log::render_text("x", {{"v", "say \"hi\" \\ \x01"}}),
            "event=x v=\"say \\\"hi\\\" \\\\ \\x01\"");
  EXPECT_EQ(log::render_text("x", {{"n", 42}, {"empty", ""}, {"plain", "a.example.com"}}),
            "event=x n=42 empty=\"\" plain=a.example.com");

  // JSON: one member per field, whatever the value holds; reserved keys are never repeated.
  auto json =
      "{" +
      log::render_json("issued",
                       {{"cert", "a\" ,\"level\":\"x"}, {"level", "forged"}, {"failures", 3}}) +
      "}";
  EXPECT_EQ(json, R"({"event":"issued","cert":"a\" ,\"level\":\"x","field_level":"forged",)"
                  R"("failures":3})");
}

}  // namespace
}  // namespace certherd::controller

namespace certherd::controller {
namespace {

TEST(Logging, TextIsMadeValidUtf8) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(valid_utf8("bad\xff\xfe!"), "bad\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(valid_utf8("ab\xc3\xa9", 3), "ab");                   // never cut inside a character
  EXPECT_EQ(valid_utf8("truncated \xe2\x82"), "truncated \xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace certherd::controller
