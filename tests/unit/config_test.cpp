// Configuration and the DOMAINS source: every bad value names its variable and what it accepts;
// every odd DOMAINS item is handled as README documents.
#include "controller/config.hpp"
#include "controller/domains_source.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

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
      {with(base(), "ACME_PROFILE", "tls server"), "ACME_PROFILE=\"tls server\" is not a profile"},
      {with(base(), "ACME_PROFILE", std::string(65, 'a')), "ACME_PROFILE"},
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

// Issue 11 §3: the self-check is on unless SELF_CHECK says otherwise; SELF_CHECK_ADDRESS is an
// address to connect to, and nothing else.
TEST(Config, SelfCheckIsOnAndItsAddressIsHostAndPort) {
  EXPECT_TRUE(load_config(base()).self_check);
  EXPECT_TRUE(load_config(base()).self_check_address.empty()) << "as the CA does, by default";
  EXPECT_FALSE(load_config(with(base(), "SELF_CHECK", "false")).self_check);
  EXPECT_EQ(error_of(with(base(), "SELF_CHECK", "sometimes")),
            "SELF_CHECK='sometimes' is not one of true, false, 1, 0, yes, no");
  for (std::string good : {"10.0.0.5:80", "lb.internal:8080", "[fd00::5]:80", "localhost:1"}) {
    EXPECT_EQ(load_config(with(base(), "SELF_CHECK_ADDRESS", good)).self_check_address, good);
  }
  for (std::string bad : {"10.0.0.5", ":80", "lb:0", "lb:65536", "lb:http", "fd00::5:80",
                          "[fd00::5]", "http://lb:80", "lb:80/path", "lb :80", "lb\n:80"}) {
    auto e = error_of(with(base(), "SELF_CHECK_ADDRESS", bad));
    EXPECT_NE(e.find("SELF_CHECK_ADDRESS"), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find("is not host:port"), std::string::npos) << bad << ": " << e;
  }
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

TEST(Config, DomainsFromAFile) {
  auto file =
      std::filesystem::temp_directory_path() / ("certherd-domains-" + std::to_string(::getpid()));
  std::ofstream(file) << "# managed hosts\na.example.com\nb.example.com, c.example.com  # two\n\n";
  auto c = load_config(with(base(), "DOMAINS_FILE", file.string()));
  EXPECT_EQ(c.domains, "a.example.com,b.example.com, c.example.com  ");
  EXPECT_NE(error_of(with(with(base(), "DOMAINS_FILE", file.string()), "DOMAINS", "x.example.com"))
                .find("exclude each other"),
            std::string::npos);
  EXPECT_NE(error_of(with(base(), "DOMAINS_FILE", "/nonexistent/certherd-domains"))
                .find("DOMAINS_FILE=/nonexistent/certherd-domains: cannot read it"),
            std::string::npos);
  std::filesystem::remove(file);
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

}  // namespace
}  // namespace certherd::controller
