// Issue 11 §4, accounts and profiles, end to end. Profiles: ACME_PROFILE checked against the
// directory's meta.profiles at start, sent with every order, recorded per certificate, and a
// change reissues — through the ACME stand-in (tests/harness/ca-standin, a stand-in for the
// profiles Debian's Pebble 2.4.0 lacks; the orders are Pebble's). Accounts: an account the CA
// deactivated is registered again once; refused again, certherd stops ordering from that CA
// and says so — against a private real Pebble, whose log counts every newAccount and newOrder.
#include "ca_standin_process.hpp"
#include "clients/acme/driver.hpp"
#include "clients/acme/session.hpp"
#include "pebble_process.hpp"
#include "stores/account_keys.hpp"
#include "stores/certificate_store.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>

namespace certherd::testing {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

env_list with(env_list env, const std::string& k, const std::string& v) {
  env.emplace_back(k, v);
  return env;
}

std::optional<std::string> recorded_profile(const temp_dir& tmp, const std::string& host) {
  auto r = stores::from_json(slurp(tmp / "state" / "certificates" / (host + ".json")));
  if (!r) return "(unreadable record)";
  return r->profile;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& fragment) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(fragment) != std::string::npos) out.push_back(line);
  }
  return out;
}

// certherd run until `done` holds in its log (or 60 s), then stopped; its log.
std::string run_until(const env_list& env, const std::filesystem::path& log,
                      const std::string& done, int times = 1) {
  background_certherd run({"run"}, env, log);
  EXPECT_TRUE(eventually([&] { return run.count(done) >= times; }, 60s)) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();
  return run.log();
}

TEST(Profiles, CheckedAtStartSentRecordedAndAChangeReissues) {
  ca_standin ca({"classic=the default, 90 days", "tlsserver=45 days"});
  temp_dir tmp;
  std::string host = unique_name("profile");
  auto env = certherd_env(tmp, host, ca.directory(), harness("CERTHERD_TEST_ROOT"));

  // A profile the CA does not offer stops start-up, naming those it does; nothing is ordered.
  background_certherd wrong({"run"}, with(env, "ACME_PROFILE", "shortlived"), tmp / "wrong.log");
  EXPECT_EQ(wrong.wait(60s), 2) << wrong.log();
  EXPECT_NE(wrong.log().find("ACME_PROFILE=shortlived: the CA offers classic, tlsserver"),
            std::string::npos)
      << wrong.log();
  EXPECT_TRUE(ca.order_field(host, "profile").empty());

  // Offered: sent with the order and recorded with the certificate.
  run_until(with(env, "ACME_PROFILE", "tlsserver"), tmp / "tlsserver.log", "event=issued");
  EXPECT_EQ(ca.order_field(host, "profile"), std::vector<std::string>{"tlsserver"});
  EXPECT_EQ(recorded_profile(tmp, host), "tlsserver");

  // Another profile wanted: the certificate is replaced, and the reason says why.
  auto log = run_until(with(env, "ACME_PROFILE", "classic"), tmp / "classic.log", "event=issued");
  EXPECT_NE(log.find("profile changed: held tlsserver, wanted classic"), std::string::npos) << log;
  EXPECT_EQ(ca.order_field(host, "profile"), (std::vector<std::string>{"tlsserver", "classic"}));
  EXPECT_EQ(recorded_profile(tmp, host), "classic");

  // The same profile after a restart: nothing ordered. Back to the CA's default: replaced.
  log = run_until(with(env, "ACME_PROFILE", "classic"), tmp / "same.log", "event=decision");
  EXPECT_NE(log.find("event=decision cert=" + host + " actions=0"), std::string::npos) << log;
  EXPECT_EQ(ca.order_field(host, "profile").size(), 2u) << log;
  log = run_until(env, tmp / "default.log", "event=issued");
  EXPECT_NE(log.find("profile changed: held classic, wanted the CA's default"), std::string::npos)
      << log;
  EXPECT_EQ(ca.order_field(host, "profile"),
            (std::vector<std::string>{"tlsserver", "classic", ""}));
  EXPECT_EQ(recorded_profile(tmp, host), "");
}

TEST(Profiles, ACaWithoutProfilesRefusesOneAtStart) {
  temp_dir tmp;
  std::string host = unique_name("noprofiles");
  // Debian's Pebble 2.4.0 offers no profiles.
  auto env = with(certherd_env(tmp, host), "ACME_PROFILE", "tlsserver");
  background_certherd run({"run"}, env, tmp / "run.log");
  EXPECT_EQ(run.wait(60s), 2) << run.log();
  EXPECT_NE(run.log().find("ACME_PROFILE=tlsserver: the CA offers no profiles"), std::string::npos)
      << run.log();
  // A profile that is not a word is refused before anything is asked.
  background_certherd bad({"run"}, with(env, "ACME_PROFILE", "tls server"), tmp / "bad.log");
  EXPECT_EQ(bad.wait(30s), 2) << bad.log();
  EXPECT_NE(bad.log().find("is not a profile name"), std::string::npos) << bad.log();
}

// Deactivates the account certherd registered under `state` at `ca` (RFC 8555 §7.3.6), as an
// operator or the CA might.
void deactivate_account(const std::filesystem::path& state, const pebble_process& ca) {
  auto account = stores::load_or_create_account(state, ca.directory_url(), pki::key_type::ec256);
  ASSERT_TRUE(account && !account->created && !account->account_url.empty())
      << "certherd registered no account";
  asio::io_context ioc;
  http::client_options o;
  o.ca_bundle = harness("CERTHERD_TEST_CA_BUNDLE");
  http::client client(ioc.get_executor(), o);
  acme::driver driver(client, nullptr, std::chrono::steady_clock::now() + 30s);
  acme::session s(ca.directory_url(), account->key);
  s.set_account_url(account->account_url);
  auto done = asio::co_spawn(
      ioc,
      driver.async_run(s.post(account->account_url, std::string(R"({"status":"deactivated"})"))),
      asio::use_future);
  ioc.run();
  auto r = done.get();
  ASSERT_TRUE(r) << r.error();
  EXPECT_NE(r->body.find("deactivated"), std::string::npos) << r->body;
}

TEST(Accounts, ADeactivatedAccountIsRegisteredOnceThenOrderingStops) {
  temp_dir tmp;
  pebble_process ca({tmp / "pebble"});
  // An account, registered by a first certificate.
  auto first = run_certherd({"issue", "--directory", ca.directory_url(), "--ca-bundle",
                             harness("CERTHERD_TEST_CA_BUNDLE"), "--webroot",
                             harness("CERTHERD_TEST_WEBROOT"), "-d", unique_name("acct-first"),
                             "--out", (tmp / "first").string(), "--state-dir",
                             (tmp / "state").string(), "--timeout", "60"});
  ASSERT_EQ(first.code, 0) << first.output;
  deactivate_account(tmp / "state", ca);
  int accounts = ca.requests("POST /sign-me-up"), orders = ca.requests("POST /order-plz");

  // Three certificates, one order at a time: the first order is refused; asked about the account
  // (without registering), the CA says it is deactivated; then nothing more is sent.
  auto hosts =
      std::vector<std::string>{unique_name("acct-a"), unique_name("acct-b"), unique_name("acct-c")};
  auto env = with(certherd_env(tmp, fmt::format("{},{},{}", hosts[0], hosts[1], hosts[2]),
                               ca.directory_url(), ca.root_file().string()),
                  "CONCURRENCY", "1");
  auto port = free_port();
  env.emplace_back("LISTEN", fmt::format("127.0.0.1:{}", port));
  background_certherd run({"run"}, env, tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=issue_failed") >= 3; }, 60s)) << run.log();
  std::this_thread::sleep_for(2s);  // anything still to be sent would be sent now
  auto status = loopback_call(port, "GET", "/status").body;
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(40s), 0) << run.log();

  EXPECT_EQ(ca.requests("POST /sign-me-up") - accounts, 1) << "asked about once";
  EXPECT_EQ(ca.requests("POST /order-plz") - orders, 1) << "one order, refused; then none";
  EXPECT_EQ(run.count("event=account_refused"), 1) << run.log();
  for (const auto& line : lines_with(run.log(), "event=account_refused"))
    std::cout << line << "\n";
  EXPECT_EQ(run.count("event=issue_failed"), 3) << run.log();
  EXPECT_EQ(run.count("event=issued"), 0);
  for (const auto& h : hosts) {
    EXPECT_NE(status.find(h), std::string::npos) << status;
  }
  EXPECT_NE(status.find("certherd orders nothing from " + ca.directory_url()), std::string::npos)
      << status;
  EXPECT_NE(status.find("to register a new one"), std::string::npos) << "the way out is named";
  // The key is the operator's to move: never replaced.
  auto account =
      stores::load_or_create_account(tmp / "state", ca.directory_url(), pki::key_type::ec256);
  ASSERT_TRUE(account);
  EXPECT_FALSE(account->created);

  // With the key moved aside (as the message says), a restart registers a new account and
  // orders (a new certificate at once; the three above when their backoff ends).
  std::filesystem::rename(stores::account_folder(tmp / "state", ca.directory_url()),
                          tmp / "old-account");
  std::string later = unique_name("acct-later");
  auto again = certherd_env(tmp, fmt::format("{},{},{},{}", hosts[0], hosts[1], hosts[2], later),
                            ca.directory_url(), ca.root_file().string());
  auto log = run_until(again, tmp / "again.log", "event=issued cert=" + later);
  EXPECT_EQ(ca.requests("POST /sign-me-up") - accounts, 2) << log;
  EXPECT_EQ(count_lines(tmp / "again.log", "event=account_ready"), 1) << log;
}

}  // namespace
}  // namespace certherd::testing
