// Rate-limit budgets (reconcilers/budgets): Let's Encrypt's limits as buckets that fill one event
// per period/capacity. A burst spends the capacity, then waits its turn, one interval apart; the
// CA's rateLimited answer overrides the local count; the state survives a restart through its
// text form, and a damaged or far-future line cannot park a key beyond what a CA could.
#include "reconcilers/budgets.hpp"

#include <gtest/gtest.h>

#include <set>

namespace certherd::reconcilers {
namespace {

using namespace std::chrono_literals;
const sys_seconds t0{std::chrono::sys_days{std::chrono::year{2026} / 12 / 3}};

TEST(Budgets, LetsEncryptsLimitsAndTheirIntervals) {
  budgets b(letsencrypt_limits());
  std::map<std::string, rate_limit> by_name;
  for (const auto& l : b.limits())
    by_name[l.name] = l;
  EXPECT_EQ(by_name.at("new_orders").interval(), 36s) << "300 per 3 h";
  EXPECT_EQ(by_name.at("certificates_per_domain").interval(), 12096s) << "50 per 7 d";
  EXPECT_EQ(by_name.at("duplicate_certificates").interval(), 120960s) << "5 per 7 d";
  EXPECT_EQ(by_name.at("failed_authorizations").interval(), 720s) << "5 per hour";
  EXPECT_EQ(by_name.at("new_accounts").interval(), 1080s) << "10 per 3 h";
}

TEST(Budgets, EightyHostsOfOneDomainGetFiftyNowAndTheRestWaitTheirTurn) {
  budgets b(letsencrypt_limits());
  charge domain{"certificates_per_domain", "example.com"};
  int sent = 0;
  std::vector<sys_seconds> waits;
  for (int i = 0; i < 80; ++i) {
    if (auto w = b.wait_for({domain}, t0)) {
      EXPECT_EQ(w->limit, "certificates_per_domain");
      EXPECT_EQ(w->key, "example.com");
      waits.push_back(w->until);
      continue;
    }
    b.spend({domain}, t0);
    ++sent;
  }
  EXPECT_EQ(sent, 50);
  EXPECT_EQ(b.remaining(domain, t0), 0);
  ASSERT_EQ(waits.size(), 30u);
  EXPECT_EQ(waits.front(), t0 + 12096s) << "the next one when the bucket has refilled one";
  // Sent one by one as each wait ends: spread across the refill, one interval apart.
  std::set<sys_seconds> at;
  sys_seconds now = t0;
  for (int i = 0; i < 30; ++i) {
    auto w = b.wait_for({domain}, now);
    ASSERT_TRUE(w);
    now = w->until;
    EXPECT_FALSE(b.wait_for({domain}, now));
    b.spend({domain}, now);
    at.insert(now);
  }
  EXPECT_EQ(at.size(), 30u);
  EXPECT_EQ(now, t0 + 30 * 12096s);
  EXPECT_EQ(b.remaining({"certificates_per_domain", "other.example"}, t0), 50)
      << "another registered domain has its own budget";
}

TEST(Budgets, TheLongestWaitOfSeveralChargesIsTheOneNamed) {
  budgets b(letsencrypt_limits());
  charge orders{"new_orders", "https://ca/acct/1"};
  charge duplicate{"duplicate_certificates", "a.example.com"};
  for (int i = 0; i < 5; ++i)
    b.spend({orders, duplicate}, t0);
  auto w = b.wait_for({orders, duplicate, {"no_such_limit", "x"}}, t0);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->limit, "duplicate_certificates");
  EXPECT_EQ(w->until, t0 + 120960s);
  EXPECT_FALSE(b.wait_for({orders}, t0)) << "295 orders are left";
  EXPECT_EQ(b.remaining(orders, t0), 295);
  EXPECT_EQ(b.remaining(orders, t0 + 36s), 296) << "refilled one";
}

TEST(Budgets, TheCasRateLimitedAnswerOverridesTheLocalCount) {
  budgets b(letsencrypt_limits());
  charge orders{"new_orders", "https://ca/acct/1"};
  b.exhausted_until(orders, t0 + 2h, t0);
  EXPECT_EQ(b.remaining(orders, t0), 0);
  auto w = b.wait_for({orders}, t0 + 1h);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->until, t0 + 2h);
  EXPECT_FALSE(b.wait_for({orders}, t0 + 2h));
  b.exhausted_until(orders, t0 + std::chrono::hours(24 * 365), t0);
  ASSERT_TRUE(b.wait_for({orders}, t0));
  EXPECT_EQ(b.wait_for({orders}, t0)->until, t0 + budgets::kMaxBlock)
      << "a Retry-After of a year blocks for at most a week";
}

TEST(Budgets, ARestartKeepsTheCounts) {
  budgets b(letsencrypt_limits());
  charge domain{"certificates_per_domain", "example.com"};
  charge failures{"failed_authorizations", "a.example.com"};
  for (int i = 0; i < 50; ++i)
    b.spend({domain}, t0);
  for (int i = 0; i < 5; ++i)
    b.spend({failures}, t0);
  b.spend({{"new_orders", "https://ca/acct/1"}}, t0 - 1h);  // full again by t0: not written
  auto text = b.to_text(t0);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;

  budgets again(letsencrypt_limits());
  again.load_text(text, t0);
  EXPECT_EQ(again.remaining(domain, t0), 0);
  EXPECT_EQ(again.remaining(failures, t0), 0);
  ASSERT_TRUE(again.wait_for({domain}, t0));
  ASSERT_TRUE(b.wait_for({domain}, t0));
  EXPECT_EQ(again.wait_for({domain}, t0)->until, b.wait_for({domain}, t0)->until);
  EXPECT_EQ(again.remaining(failures, t0 + 1h), 5);
}

TEST(Budgets, ADamagedOrFarFutureLineCannotParkAKey) {
  budgets b(letsencrypt_limits());
  b.load_text(
      "certificates_per_domain\texample.com\tnot-a-number\n"
      "no_such_limit\texample.com\t99999999999\n"
      "certificates_per_domain\t\t1900000000\n"
      "just one field\n"
      "\n"
      "duplicate_certificates\ta.example.com\t253402300799\n"
      "new_orders\thttps://ca/acct/1\t1900000000junk\n",
      t0);
  EXPECT_EQ(b.remaining({"certificates_per_domain", "example.com"}, t0), 50);
  EXPECT_EQ(b.remaining({"new_orders", "https://ca/acct/1"}, t0), 300);
  auto w = b.wait_for({{"duplicate_certificates", "a.example.com"}}, t0);
  ASSERT_TRUE(w) << "a year-9999 time is cut down, not dropped";
  EXPECT_LE(w->until, t0 + budgets::kMaxBlock) << "no line makes a key wait longer than a CA can";
}

TEST(Budgets, ABurstIsTheCapacityEvenWhenThePeriodDoesNotDivide) {
  for (int capacity : {3, 7, 100}) {
    budgets b({{"odd", capacity, 10s * 6}});
    charge c{"odd", "k"};
    int sent = 0;
    while (!b.wait_for({c}, t0) && sent < 1000) {
      EXPECT_GE(b.remaining(c, t0), 1) << "remaining agrees with wait_for";
      b.spend({c}, t0);
      ++sent;
    }
    EXPECT_EQ(sent, capacity);
    EXPECT_EQ(b.remaining(c, t0), 0);
  }
}

}  // namespace
}  // namespace certherd::reconcilers
