// plan() as a table: every row of the original project's cert_manager() flowchart
// (design/architecture.md) and every "beyond the original" case is one row, checked for its
// actions, and the renewal and backoff rules beside it.
#include "reconcilers/certificate_reconciler.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

namespace certherd::reconcilers {
namespace {

using namespace std::chrono_literals;
using pki::issuer_class;
using days = std::chrono::days;

const sys_seconds T{std::chrono::seconds(1'900'000'000)};
const std::string kProd = "https://acme-v02.api.letsencrypt.org/directory";
const std::string kStaging = "https://acme-staging-v02.api.letsencrypt.org/directory";

cert_spec spec(std::string directory = kProd, issuer_class cls = issuer_class::production) {
  return {"a.example", {"a.example"}, std::move(directory), cls, pki::key_type::ec256, {"rancher"},
          {}};
}

// A 90-day certificate issued `age` ago.
local_copy held(days age, std::string fp = "local-fp", issuer_class cls = issuer_class::production,
                std::string directory = kProd) {
  local_copy l;
  l.present = true;
  l.hosts = {"a.example"};
  l.directory = std::move(directory);
  l.issuer = cls;
  l.not_before = T - age;
  l.not_after = T - age + days(90);
  l.fingerprint = std::move(fp);
  return l;
}

local_copy good() {
  return held(days(10));
}  // renewal at day 60
local_copy due() {
  return held(days(70));
}  // 20 days left
local_copy expired() {
  return held(days(91));
}
local_copy staging() {
  return held(days(10), "staging-fp", issuer_class::staging, kStaging);
}
local_copy none_held() {
  return {};
}

target_copy in_target(std::string fp, issuer_class cls, sys_seconds not_after = T + days(60)) {
  target_copy t;
  t.target = "rancher";
  t.present = true;
  t.fingerprint = std::move(fp);
  t.not_after = not_after;
  t.issuer = cls;
  return t;
}

// The target as it answers when it serves nothing under the name.
target_copy empty_target(bool takes_placeholders) {
  target_copy t;
  t.target = "rancher";
  t.takes_placeholders = takes_placeholders;
  return t;
}

struct row {
  std::string name;
  cert_spec spec;
  std::optional<local_copy> local;
  std::vector<target_copy> targets;
  std::vector<action_kind> expected;
  std::string reason_has;  // a fragment the reason must contain
  reconcile_policy policy = {};
};

std::vector<action_kind> kinds(const plan_result& p) {
  std::vector<action_kind> out;
  for (const auto& a : p.actions)
    out.push_back(a.kind);
  return out;
}

std::string print(const std::vector<action_kind>& ks) {
  std::string s;
  for (auto k : ks)
    s += std::string(to_string(k)) + " ";
  return s;
}

class PlanTable : public ::testing::TestWithParam<row> {};

TEST_P(PlanTable, Decides) {
  const row& r = GetParam();
  auto p = plan(r.spec, r.local, r.targets, T, r.policy);
  EXPECT_EQ(print(kinds(p)), print(r.expected)) << p.reason;
  EXPECT_NE(p.reason.find(r.reason_has), std::string::npos) << p.reason;
  auto again = plan(r.spec, r.local, r.targets, T, r.policy);
  EXPECT_EQ(again.actions, p.actions) << "plan() is a pure function";
  EXPECT_EQ(again.reason, p.reason);
}

using K = action_kind;
reconcile_policy bootstrap_policy() {
  reconcile_policy p;
  p.bootstrap_placeholders = true;
  return p;
}
reconcile_policy adopt_policy() {
  reconcile_policy p;
  p.adopt_foreign = true;
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    OriginalFlowchart, PlanTable,
    ::testing::Values(
        // local yes, in Rancher yes: Rancher copy from staging, production wanted → issue, update
        row{"staging_everywhere_production_wanted",
            spec(),
            staging(),
            {in_target("staging-fp", issuer_class::staging)},
            {K::issue},
            "comes from"},
        row{"rancher_staging_local_production",
            spec(),
            good(),
            {in_target("staging-fp", issuer_class::staging)},
            {K::push},
            "staging"},
        // Rancher copy self-signed, production wanted → issue (no local), or push a good local
        row{"rancher_self_signed_no_local",
            spec(),
            none_held(),
            {in_target("ss-fp", issuer_class::self_signed)},
            {K::issue},
            "no certificate held"},
        row{"rancher_self_signed_local_good",
            spec(),
            good(),
            {in_target("ss-fp", issuer_class::self_signed)},
            {K::push},
            "self-signed"},
        // Rancher copy due, local due too → issue (renew); the target already has it
        row{"both_due",
            spec(),
            due(),
            {in_target("local-fp", issuer_class::production)},
            {K::issue},
            "renewal due"},
        // Rancher copy due, local good → update in place with local
        row{"rancher_due_local_good",
            spec(),
            good(),
            {in_target("old-fp", issuer_class::production, T + days(5))},
            {K::push},
            "old-fp"},
        // local yes, Rancher no: local due → issue, and serve the still-valid local meanwhile
        row{"local_due_not_in_rancher", spec(), due(), {}, {K::issue, K::push}, "no certificate"},
        row{"local_expired_not_in_rancher", spec(), expired(), {}, {K::issue}, "expired at"},
        // local yes, Rancher no: local good → create
        row{"local_good_not_in_rancher", spec(), good(), {}, {K::push}, "has no certificate"},
        // local no, Rancher yes → issue (then update in place)
        row{"no_local_in_rancher",
            spec(),
            std::nullopt,
            {in_target("r-fp", issuer_class::production)},
            {K::issue},
            "no certificate held"},
        // local no, Rancher no → issue (then create); with placeholders, bootstrap first
        row{"nothing_anywhere", spec(), std::nullopt, {}, {K::issue}, "no certificate held"},
        row{"nothing_anywhere_bootstrap",
            spec(),
            std::nullopt,
            {empty_target(true)},
            {K::issue, K::bootstrap},
            "nothing to serve",
            bootstrap_policy()},
        // a target that takes no placeholders (Rancher) gets none
        row{"nothing_anywhere_no_placeholder_for_rancher",
            spec(),
            std::nullopt,
            {empty_target(false)},
            {K::issue},
            "no certificate held",
            bootstrap_policy()},
        // never over a certificate a target already serves
        row{"placeholder_never_over_a_certificate",
            spec(),
            std::nullopt,
            {in_target("r-fp", issuer_class::production)},
            {K::issue},
            "no certificate held",
            bootstrap_policy()}),
    [](const auto& info) { return info.param.name; });

// certherd's own output files once held a certificate of a CA it no longer uses.
target_copy exclusive_foreign() {
  auto t = in_target("other-ca", issuer_class::foreign);
  t.exclusive = true;
  return t;
}

cert_spec two_hosts() {
  auto s = spec();
  s.hosts = {"a.example", "b.example"};
  return s;
}

local_copy failing(int failures, sys_seconds next_retry) {
  local_copy l;
  l.failures = failures;
  l.next_retry = next_retry;
  l.last_error = "authorization failed";
  return l;
}

cert_spec rsa_spec() {
  auto s = spec();
  s.key_type = pki::key_type::rsa2048;
  return s;
}

// Issue 11 §4: the profile a certificate was ordered with, and the one wanted.
local_copy good_with_profile(std::optional<std::string> profile) {
  auto l = good();
  l.profile = std::move(profile);
  return l;
}

cert_spec spec_with_profile(std::string profile) {
  auto s = spec();
  s.profile = std::move(profile);
  return s;
}

cert_spec custom_spec_without_roots() {
  return {"a.example",
          {"a.example"},
          "https://pebble:14000/dir",
          std::nullopt,
          pki::key_type::ec256,
          {"rancher"},
          {}};
}

local_copy custom_local() {
  auto l = held(days(1), "local-fp", issuer_class::foreign, "https://pebble:14000/dir");
  return l;
}

// Renewed: the store holds a new certificate; the target still serves the one certherd pushed
// before, from a CA whose roots certherd was not given (so it classifies as foreign).
local_copy custom_renewed() {
  auto l = held(days(0), "new-fp", issuer_class::foreign, "https://pebble:14000/dir");
  l.own = {"old-fp", "old-sha1"};
  return l;
}

// A file someone else wrote (HAProxy's folder): protected whatever it holds.
target_copy someone_elses(bool pinned, issuer_class cls = issuer_class::self_signed) {
  auto t = in_target("operator-fp", cls);
  t.foreign_owner = true;
  t.pinned = pinned;
  t.owner_note = pinned ? "bound by the frontend" : "a file certherd did not write";
  return t;
}

target_copy served_sha1_only(std::string sha1) {
  target_copy t;
  t.target = "rancher";
  t.present = true;
  t.fingerprint_sha1 = std::move(sha1);
  t.not_after = T + days(60);
  t.issuer = issuer_class::foreign;
  return t;
}

INSTANTIATE_TEST_SUITE_P(
    BeyondTheOriginal, PlanTable,
    ::testing::Values(
        row{"hosts_changed",
            two_hosts(),
            good(),
            {in_target("local-fp", issuer_class::production)},
            {K::issue},
            "hosts changed"},
        row{"in_sync",
            spec(),
            good(),
            {in_target("local-fp", issuer_class::production)},
            {},
            "renewal at"},
        row{"foreign_valid_left_alone",
            spec(),
            good(),
            {in_target("other-ca", issuer_class::foreign)},
            {K::conflict},
            "another CA"},
        row{"foreign_valid_adopted",
            spec(),
            good(),
            {in_target("other-ca", issuer_class::foreign)},
            {K::push},
            "other-ca",
            adopt_policy()},
        row{"foreign_on_exclusive_target_replaced",
            spec(),
            good(),
            {exclusive_foreign()},
            {K::push},
            "other-ca"},
        row{"foreign_expired_replaced",
            spec(),
            good(),
            {in_target("other-ca", issuer_class::foreign, T - days(1))},
            {K::push},
            "foreign"},
        row{"backoff_in_force", spec(), failing(2, T + 5min), {}, {}, "waiting until"},
        row{"backoff_over", spec(), failing(2, T - 1s), {}, {K::issue}, "no certificate held"},
        row{"directory_switched_to_staging",
            spec(kStaging, issuer_class::staging),
            good(),
            {in_target("local-fp", issuer_class::production)},
            {K::issue},
            "comes from"},
        row{"record_says_production_chain_says_staging",
            spec(),
            held(days(10), "x", issuer_class::staging, kProd),
            {},
            {K::issue, K::push},
            "held certificate is staging"},
        row{"key_type_changed", rsa_spec(), good(), {}, {K::issue, K::push}, "key type changed"},
        row{"profile_changed",
            spec_with_profile("tlsserver"),
            good_with_profile("classic"),
            {},
            {K::issue, K::push},
            "profile changed: held classic, wanted tlsserver"},
        row{"profile_back_to_the_cas_default",
            spec(),
            good_with_profile("shortlived"),
            {},
            {K::issue, K::push},
            "profile changed: held shortlived, wanted the CA's default"},
        row{"profile_unchanged",
            spec_with_profile("tlsserver"),
            good_with_profile("tlsserver"),
            {},
            {K::push},
            "renewal at"},
        // A record from before profiles were recorded: no reason to order (an upgrade must
        // not replace every certificate at once).
        row{"profile_not_recorded",
            spec_with_profile("tlsserver"),
            good_with_profile(std::nullopt),
            {},
            {K::push},
            "renewal at"},
        row{"custom_directory_decided_by_record",
            custom_spec_without_roots(),
            custom_local(),
            {in_target("local-fp", issuer_class::foreign)},
            {},
            "renewal at"},
        // Issue 9, defect 1: certherd's own earlier certificate is never "another CA's".
        row{"own_earlier_certificate_of_unknown_ca_replaced",
            custom_spec_without_roots(),
            custom_renewed(),
            {in_target("old-fp", issuer_class::foreign)},
            {K::push},
            "certherd's, earlier"},
        row{"own_earlier_certificate_known_by_sha1_replaced",
            custom_spec_without_roots(),
            custom_renewed(),
            {served_sha1_only("old-sha1")},
            {K::push},
            "certherd's, earlier"},
        row{"file_someone_else_wrote_left_alone_even_self_signed",
            spec(),
            good(),
            {someone_elses(false)},
            {K::conflict},
            "did not write"},
        row{"file_someone_else_wrote_adopted",
            spec(),
            good(),
            {someone_elses(false)},
            {K::push},
            "operator-fp",
            adopt_policy()},
        row{"file_the_frontend_binds_never_touched_even_when_adopting",
            spec(),
            good(),
            {someone_elses(true)},
            {K::conflict},
            "bound by the frontend",
            adopt_policy()},
        row{"unknown_certificate_of_unknown_ca_left_alone",
            custom_spec_without_roots(),
            custom_renewed(),
            {in_target("someone-elses-fp", issuer_class::foreign)},
            {K::conflict},
            "another CA"}),
    [](const auto& info) { return info.param.name; });

TEST(Plan, RequeuesAtRenewalTime) {
  auto p = plan(spec(), good(), {in_target("local-fp", issuer_class::production)}, T, {});
  ASSERT_TRUE(p.requeue_at);
  auto l = good();
  EXPECT_LE(*p.requeue_at, l.not_after - days(30));
  EXPECT_GE(*p.requeue_at, l.not_after - days(30) - 1h) << "jitter is at most an hour";
  auto backing_off = plan(spec(), failing(1, T + 1min), {}, T, {});
  EXPECT_EQ(backing_off.requeue_at, T + 1min);
}

// An order held back by a budget waits, says so, and is looked at again within the hour (a
// refund may free the budget long before the hold ends).
TEST(Plan, AHeldBackOrderWaitsAndIsLookedAtAgainWithinTheHour) {
  order_hold hold{T + days(5), "waiting for the example.com budget"};
  auto p = plan(spec(), due(), {in_target("local-fp", issuer_class::production)}, T, {}, hold);
  EXPECT_TRUE(std::none_of(p.actions.begin(), p.actions.end(),
                           [](const auto& a) { return a.kind == action_kind::issue; }));
  ASSERT_TRUE(p.held_back);
  EXPECT_EQ(p.held_back->until, T + days(5));
  ASSERT_TRUE(p.requeue_at);
  EXPECT_EQ(*p.requeue_at, T + 1h);
  EXPECT_NE(p.reason.find("waiting for the example.com budget"), std::string::npos) << p.reason;
  order_hold soon{T + 10min, "waiting"};
  EXPECT_EQ(plan(spec(), due(), {}, T, {}, soon).requeue_at, T + 10min);
  // No hold: no held_back.
  EXPECT_FALSE(plan(spec(), due(), {}, T, {}).held_back);
}

// Issue 9, defect 6: a certificate valid until 9999 is renewed at a time between now and its
// notAfter, computed without overflow.
TEST(Plan, FarFutureNotAfterGivesASaneRenewalTime) {
  auto l = good();
  l.not_after = sys_seconds{std::chrono::seconds(253402300799)};  // 9999-12-31T23:59:59Z
  auto p = plan(spec(), l, {in_target("local-fp", issuer_class::production)}, T, {});
  ASSERT_TRUE(p.requeue_at);
  EXPECT_GT(*p.requeue_at, T);
  EXPECT_LT(*p.requeue_at, l.not_after);
  EXPECT_TRUE(p.actions.empty()) << p.reason;
}

TEST(Plan, ActionsPrintTheirReason) {
  auto p = plan(spec(), good(), {}, T, {});
  ASSERT_EQ(p.actions.size(), 1u);
  std::ostringstream os;
  os << p.actions[0];
  EXPECT_EQ(os.str(), "push rancher (rancher has no certificate)");
}

TEST(Renewal, OneThirdOfLifetimeLeft) {
  renewal_policy p;
  p.max_jitter = 0s;
  EXPECT_EQ(renewal_time(T, T + days(90), p, "x"), T + days(60));
}

TEST(Renewal, HalfForShortLifetimes) {
  renewal_policy p;
  p.max_jitter = 0s;
  EXPECT_EQ(renewal_time(T, T + days(6), p, "x"), T + days(3));
  EXPECT_EQ(renewal_time(T, T + 300s, p, "x"), T + 150s) << "Pebble's five-minute certificates";
}

TEST(Renewal, RenewBeforeDaysOverridesButNeverPastHalfTheLifetime) {
  renewal_policy p;
  p.max_jitter = 0s;
  p.renew_before = days(14);
  EXPECT_EQ(renewal_time(T, T + days(90), p, "x"), T + days(76));
  EXPECT_EQ(renewal_time(T, T + days(6), p, "x"), T + days(3)) << "clamped: no reissue loop";
}

TEST(Renewal, JitterIsStableAndBounded) {
  renewal_policy p;
  auto a = renewal_time(T, T + days(90), p, "fingerprint-a");
  EXPECT_EQ(a, renewal_time(T, T + days(90), p, "fingerprint-a"));
  int differing = 0;
  for (int i = 0; i < 20; ++i) {
    auto t = renewal_time(T, T + days(90), p, fmt::format("fp-{}", i));
    EXPECT_LE(t, T + days(60));
    EXPECT_GT(t, T + days(60) - 1h);
    differing += t != a;
  }
  EXPECT_GT(differing, 10) << "certificates spread out";
  EXPECT_GE(renewal_time(T, T + 300s, p, "x"), T + 150s - 15s) << "jitter ≤ lifetime/20";
}

TEST(Backoff, Table) {
  EXPECT_EQ(backoff_delay(1), 1min);
  EXPECT_EQ(backoff_delay(2), 10min);
  EXPECT_EQ(backoff_delay(3), 100min);
  EXPECT_EQ(backoff_delay(4), days(1));
  EXPECT_EQ(backoff_delay(40), days(1));
  EXPECT_EQ(next_retry_time(1, T, failure_kind::validation, std::nullopt), T + 1min);
  EXPECT_EQ(next_retry_time(1, T, failure_kind::transport, 3h), T + 3h)
      << "Retry-After is honoured";
  EXPECT_EQ(next_retry_time(4, T, failure_kind::server_internal, 1h), T + days(1))
      << "never sooner than the table";
  // A rate limit waits for the CA's word, or an hour without one.
  EXPECT_EQ(next_retry_time(1, T, failure_kind::rate_limited, std::nullopt), T + 1h);
  EXPECT_EQ(next_retry_time(1, T, failure_kind::rate_limited, 10min), T + 10min);
  EXPECT_EQ(next_retry_time(4, T, failure_kind::rate_limited, std::nullopt), T + days(1));
}

}  // namespace
}  // namespace certherd::reconcilers
