// The budgets as orders spend them (reconcilers/order_budgets): the RATE_LIMITS file, what an
// order is charged and what is exempt, the CA's rateLimited taken over the local count, and the
// state surviving a restart in its file.
#include "reconcilers/order_budgets.hpp"

#include "stores/atomic_file.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

namespace certherd::reconcilers {
namespace {

using namespace std::chrono_literals;

const sys_seconds t0{std::chrono::seconds(1'800'000'000)};

cert_spec spec_of(std::vector<std::string> hosts) {
  cert_spec s;
  s.name = hosts.front();
  s.hosts = std::move(hosts);
  s.directory = "https://ca.example/dir";
  return s;
}

bool has(const std::vector<charge>& cs, const std::string& limit, const std::string& key) {
  for (const auto& c : cs)
    if (c.limit == limit && c.key == key) return true;
  return false;
}

TEST(RateLimitsFile, ReadsLimitsAndNamesTheBadLine) {
  auto ok = parse_rate_limits(
      "# our private CA\ncertificates_per_domain 20 1d\n\nnew_orders 100 3h  # per account\n"
      "failed_authorizations 2 30m\n");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0].name, "certificates_per_domain");
  EXPECT_EQ((*ok)[0].capacity, 20);
  EXPECT_EQ((*ok)[0].period, 24h);
  EXPECT_EQ((*ok)[2].period, 30min);
  for (auto [text, says] : std::vector<std::pair<const char*, const char*>>{
           {"new_orders 300\n", "line 1: 2 words"},
           {"new_orders 300 3h\nbogus_limit 1 1h\n", "line 2: unknown limit 'bogus_limit'"},
           {"new_orders 0 3h\n", "capacity"},
           {"new_orders -5 3h\n", "capacity"},
           {"new_orders 5 3w\n", "period"},
           {"new_orders 5 400d\n", "period"},
           {"new_orders 5 1h\nnew_orders 6 1h\n", "given twice"}}) {
    auto bad = parse_rate_limits(text);
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.error().message.find(says), std::string::npos) << bad.error().message;
    EXPECT_EQ(bad.error().kind, failure_kind::configuration);
  }
}

TEST(OrderCharges, ANewOrderIsChargedEverywhereARenewalLess) {
  auto spec = spec_of({"a.shop.example.co.uk", "b.shop.example.co.uk", "www.example.com"});
  auto fresh = order_charges(spec, std::nullopt, false);
  EXPECT_TRUE(has(fresh, "new_orders", spec.directory));
  EXPECT_TRUE(has(fresh, "certificates_per_domain", "example.co.uk"));
  EXPECT_TRUE(has(fresh, "certificates_per_domain", "example.com"));
  EXPECT_EQ(std::count_if(fresh.begin(), fresh.end(),
                          [](const auto& c) { return c.limit == "certificates_per_domain"; }),
            2)
      << "one certificate per registered domain, however many names of it";
  EXPECT_TRUE(has(fresh, "duplicate_certificates",
                  "a.shop.example.co.uk,b.shop.example.co.uk,www.example.com"));
  EXPECT_TRUE(has(fresh, "failed_authorizations", "www.example.com"));

  local_copy held;
  held.present = true;
  held.hosts = spec.hosts;
  held.directory = "https://staging.example/dir";
  EXPECT_TRUE(has(order_charges(spec, held, false), "certificates_per_domain", "example.com"))
      << "the same names from another CA: a new certificate there";
  held.directory = spec.directory;
  auto same_set = order_charges(spec, held, false);
  EXPECT_FALSE(has(same_set, "new_orders", spec.directory)) << "a same-set renewal is exempt";
  EXPECT_FALSE(has(same_set, "certificates_per_domain", "example.com"));
  EXPECT_TRUE(has(same_set, "duplicate_certificates",
                  "a.shop.example.co.uk,b.shop.example.co.uk,www.example.com"))
      << "certherd's own guard against an order loop";
  held.hosts = {"www.example.com"};
  auto grown = order_charges(spec, held, false);
  EXPECT_TRUE(has(grown, "certificates_per_domain", "example.com")) << "not the same set";
  auto ari = order_charges(spec, held, true);
  EXPECT_FALSE(has(ari, "new_orders", spec.directory)) << "an ARI renewal is exempt";
  EXPECT_FALSE(has(ari, "certificates_per_domain", "example.com"));
}

TEST(OrderBudgets, FiftyCertificatesOfADomainThenEachWaitsItsShare) {
  order_budgets b(letsencrypt_limits(), nullptr);
  int sent = 0;
  std::optional<budget_wait> first_wait;
  for (int i = 0; i < 80; ++i) {
    auto c =
        order_charges(spec_of({"h" + std::to_string(i) + ".example.com"}), std::nullopt, false);
    if (auto w = b.wait_for(c, t0)) {
      if (!first_wait) first_wait = w;
      continue;
    }
    b.spend(c, t0);
    ++sent;
  }
  EXPECT_EQ(sent, 50);
  ASSERT_TRUE(first_wait);
  EXPECT_EQ(first_wait->limit, "certificates_per_domain");
  EXPECT_EQ(first_wait->key, "example.com");
  EXPECT_EQ(first_wait->until, t0 + std::chrono::seconds(7 * 86400 / 50))
      << "a burst is spread across the refill";
  EXPECT_EQ(describe(*first_wait, b.limits()),
            "waiting for the example.com budget (certificates per registered domain, 50 per 7 d) "
            "until 2027-01-15T11:21:36Z");
}

TEST(OrderBudgets, AnOrderThatIssuedNothingGivesBackWhatCountsCertificates) {
  order_budgets b({{"certificates_per_domain", 1, 24h}, {"new_orders", 1, 24h}}, nullptr);
  auto c = order_charges(spec_of({"a.example.com"}), std::nullopt, false);
  b.spend(c, t0);
  ASSERT_TRUE(b.wait_for(c, t0));
  b.not_issued(c, t0);
  auto w = b.wait_for(c, t0);
  ASSERT_TRUE(w) << "the order itself still counts";
  EXPECT_EQ(w->limit, "new_orders");
}

TEST(OrderBudgets, FailedValidationsAreCountedPerName) {
  order_budgets b(letsencrypt_limits(), nullptr);
  auto c = order_charges(spec_of({"never.example.com"}), std::nullopt, false);
  for (int i = 0; i < 5; ++i) {
    ASSERT_FALSE(b.wait_for(c, t0)) << i;
    b.failed_validation({"never.example.com"}, t0);
  }
  auto w = b.wait_for(c, t0);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->limit, "failed_authorizations");
  EXPECT_EQ(w->key, "never.example.com");
  EXPECT_EQ(w->until, t0 + 12min);
  EXPECT_FALSE(b.wait_for(order_charges(spec_of({"other.example.com"}), std::nullopt, false), t0));
}

TEST(OrderBudgets, TheCasRateLimitedAnswerOverridesTheLocalCount) {
  order_budgets b(letsencrypt_limits(), nullptr);
  auto c = order_charges(spec_of({"a.example.com"}), std::nullopt, false);
  b.rate_limited(c,
                 "too many certificates (50) already issued for \"example.com\" in the last 168h",
                 t0 + 5h, t0);
  auto w = b.wait_for(order_charges(spec_of({"b.example.com"}), std::nullopt, false), t0);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->key, "example.com");
  EXPECT_EQ(w->until, t0 + 5h);
  b.rate_limited(c, "too many new orders recently", t0 + 2h, t0);
  auto other = b.wait_for(order_charges(spec_of({"x.example.org"}), std::nullopt, false), t0);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->limit, "new_orders");
  b.rate_limited(c, "a detail naming nothing", t0 + 24h * 365, t0);
  auto capped = b.wait_for(c, t0);
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->until, t0 + budgets::kMaxBlock) << "no CA answer parks a name for longer";
}

TEST(OrderBudgets, ARestartKeepsTheCounts) {
  char tmpl[] = "/tmp/certherd-budgets-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto file = dir / "budgets";
  auto c = order_charges(spec_of({"a.example.com"}), std::nullopt, false);
  {
    order_budgets b({{"certificates_per_domain", 2, 24h}}, file);
    ASSERT_TRUE(b.load(t0));
    b.spend(c, t0);
    b.spend(c, t0);
    ASSERT_TRUE(b.wait_for(c, t0));
    EXPECT_TRUE(b.save_error().empty()) << b.save_error();
  }
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  order_budgets again({{"certificates_per_domain", 2, 24h}}, file);
  ASSERT_TRUE(again.load(t0 + 1h));
  auto w = again.wait_for(c, t0 + 1h);
  ASSERT_TRUE(w) << "the restart did not reset the budget";
  EXPECT_EQ(w->until, t0 + 12h);
  // A folder where the file should be: reported, not taken as empty.
  std::filesystem::remove(file);
  std::filesystem::create_directory(file);
  order_budgets unreadable({{"certificates_per_domain", 2, 24h}}, file);
  auto loaded = unreadable.load(t0);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find(file.string()), std::string::npos)
      << loaded.error().message;
  std::filesystem::remove_all(dir);
}

// A refund (an order that issued nothing) stands where the state is kept: the line this
// process wrote before it is not taken back as another's spend, on saving nor from the watch;
// another process's spend meanwhile is kept.
TEST(OrderBudgets, ARefundStandsWhereTheStateIsKept) {
  char tmpl[] = "/tmp/certherd-budgets-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto file = dir / "budgets";
  std::vector<rate_limit> limits{{"certificates_per_domain", 1, 24h}};
  auto a = order_charges(spec_of({"a.example.com"}), std::nullopt, false);
  auto b = order_charges(spec_of({"b.example.org"}), std::nullopt, false);
  order_budgets mine(limits, file);
  ASSERT_TRUE(mine.load(t0));
  mine.spend(a, t0);
  std::ifstream before_refund(file);
  std::string spent((std::istreambuf_iterator<char>(before_refund)), {});
  ASSERT_NE(spent.find("example.com"), std::string::npos) << spent;
  // Another process spends for its domain meanwhile.
  {
    order_budgets other(limits, file);
    ASSERT_TRUE(other.load(t0));
    other.spend(b, t0);
  }
  mine.not_issued(a, t0);
  EXPECT_FALSE(mine.wait_for(a, t0));
  EXPECT_TRUE(mine.wait_for(b, t0)) << "the other's spend came in with the save";
  // The watch brings this process's own earlier write back: the refund stands.
  mine.merge(spent, t0);
  EXPECT_FALSE(mine.wait_for(a, t0));
  order_budgets again(limits, file);
  ASSERT_TRUE(again.load(t0));
  EXPECT_FALSE(again.wait_for(a, t0)) << "the file kept the refund";
  EXPECT_TRUE(again.wait_for(b, t0)) << "and the other's spend";
  // A write of another's that is not this process's own still counts when merged.
  mine.merge("certificates_per_domain\texample.com\t" +
                 std::to_string((t0 + 23h).time_since_epoch().count()) + "\n",
             t0);
  EXPECT_TRUE(mine.wait_for(a, t0));
  std::filesystem::remove_all(dir);
}

// After a refund, another process spending the same key from the same point writes the very
// time this process had written before its refund: still another's spend, and kept.
TEST(OrderBudgets, AnothersSpendIsKeptEvenWhenItsTimeIsOneThisProcessOnceWrote) {
  char tmpl[] = "/tmp/certherd-budgets-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  auto file = dir / "budgets";
  std::vector<rate_limit> limits{{"certificates_per_domain", 1, 24h}};
  auto a = order_charges(spec_of({"a.example.com"}), std::nullopt, false);
  auto c = order_charges(spec_of({"c.example.net"}), std::nullopt, false);
  order_budgets mine(limits, file);
  ASSERT_TRUE(mine.load(t0));
  mine.spend(a, t0);
  mine.not_issued(a, t0);  // the order failed: refunded, and saved so
  {
    order_budgets other(limits, file);  // `certherd renew` beside the daemon
    ASSERT_TRUE(other.load(t0));
    ASSERT_FALSE(other.wait_for(a, t0));
    other.spend(a, t0);  // the same time this process wrote before its refund
  }
  mine.spend(c, t0);  // any save merges what is kept
  EXPECT_TRUE(mine.wait_for(a, t0)) << "the other's spend came in";
  order_budgets again(limits, file);
  ASSERT_TRUE(again.load(t0));
  EXPECT_TRUE(again.wait_for(a, t0)) << "and stayed in the file";
  EXPECT_TRUE(again.wait_for(c, t0));
  std::filesystem::remove_all(dir);
}

}  // namespace

}  // namespace certherd::reconcilers
