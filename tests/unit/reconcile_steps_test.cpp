// The reconcile's steps (reconcilers/certificate_executor: read what is held, observe, plan, carry
// out), one table row per branch, each step failing in turn: a scripted store (reads and writes
// refused on demand), a scripted issuer (a self-signed certificate per order, or a failure of a
// given kind) and two scripted targets (unreadable or refusing on demand). What each row checks:
// what was ordered and pushed, whether the reconcile failed and with which kind, and when the
// certificate is looked at again.
#include "pki/utc_time.hpp"
#include "reconcilers/certificate_executor.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <ostream>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class memory_store final : public stores::certificate_store {
 public:
  std::map<std::string, stores::stored_certificate> records;
  bool refuse_reads = false, refuse_writes = false;
  int writes = 0;
  outcome<std::optional<stores::stored_certificate>> load(const std::string& n) override {
    if (refuse_reads) {
      return certherd::fail(failure_kind::store_io, "read " + n + ".json: Input/output error");
    }
    auto it = records.find(n);
    if (it == records.end()) return std::optional<stores::stored_certificate>{};
    return std::optional<stores::stored_certificate>{it->second};
  }
  outcome<> save(const stores::stored_certificate& r) override {
    if (refuse_writes) {
      return certherd::fail(failure_kind::store_io,
                            "write " + r.name + ".json: No space left on device");
    }
    ++writes;
    records[r.name] = r;
    ++versions_[r.name];
    return {};
  }
  outcome<std::vector<std::string>> names() override {
    std::vector<std::string> out;
    for (const auto& [n, r] : records)
      out.push_back(n);
    return out;
  }
  std::optional<stores::file_stamp> version(const std::string& n) override {
    if (!records.count(n)) return std::nullopt;
    return stores::file_stamp{1, versions_[n], 0};
  }

 private:
  std::map<std::string, long> versions_;
};

class scripted_issuer final : public issuer {
 public:
  int orders = 0;
  std::optional<failure_kind> fail;
  sys_seconds now{};
  std::vector<order_context> contexts;  ///< what each order was told it replaces
  std::vector<std::string> asked;       ///< the CertIDs renewalInfo was asked about
  renewal_info_answer renewal_info;     ///< what renewalInfo answers (default: no ARI)
  std::function<void()> while_asked;    ///< what happens elsewhere while the CA is asked
  asio::awaitable<outcome<issued_certificate>> async_issue(cert_spec spec,
                                                           order_context context) override {
    ++orders;
    contexts.push_back(context);
    if (fail) co_return failure{*fail, "scripted failure", {}, {}};
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    // Signed by a CA, so the leaf has the Authority Key Identifier a CertID is made of.
    if (!ca_cert) {
      ca_key = *pki::private_key::generate(pki::key_type::ec256);
      ca_cert = *pki::make_ca_certificate(*ca_key, "scripted CA", now, 24h * 3650);
    }
    std::vector<pki::certificate> chain{
        *pki::sign_certificate(*ca_cert, *ca_key, key, spec.hosts, now, 24h * 90)};
    co_return issued_certificate{std::move(chain), std::move(key)};
  }
  std::optional<pki::private_key> ca_key;
  std::optional<pki::certificate> ca_cert;
  asio::awaitable<renewal_info_answer> async_renewal_info(std::string,
                                                          std::string cert_id) override {
    asked.push_back(cert_id);
    if (while_asked) while_asked();
    co_return renewal_info;
  }
};

class scripted_target final : public target {
 public:
  explicit scripted_target(std::string name) : name_(std::move(name)) {}
  bool unreadable = false, refuses = false, foreign_holder = false, silent = false;
  bool foreign_at_observe = false;
  int pushes = 0;
  std::string served;
  std::string_view name() const override { return name_; }
  asio::awaitable<outcome<target_copy>> async_observe(std::string) override {
    if (unreadable) co_return unreachable("connection refused");
    if (foreign_at_observe) co_return foreign("a link certherd did not make");
    target_copy t;
    t.target = name_;
    t.exclusive = true;
    t.present = !served.empty();
    t.fingerprint = served;
    co_return t;
  }
  asio::awaitable<outcome<>> async_push(std::string, std::vector<pki::certificate> chain,
                                        pki::private_key, std::vector<std::string>) override {
    if (refuses) co_return refused("the target refused");
    if (foreign_holder) co_return foreign("the name holds a file certherd did not write");
    if (silent) co_return unreachable("timed out");
    ++pushes;
    served = chain.front().fingerprint_sha256();
    co_return outcome<>{};
  }

 private:
  std::string name_;
};

struct world {
  memory_store store;
  pki::trust_anchors anchors;
  scripted_issuer ca;
  scripted_target first{"first"}, second{"second"};
  observation_cache cache;
  sys_seconds now{std::chrono::seconds(1'800'000'000)};
  std::uint64_t random_bits = 0;         ///< what the executor draws for a time in an ARI window
  std::optional<order_budgets> budgets;  ///< none: RATE_LIMITS=off
  cert_spec spec{"a.example.com",
                 {"a.example.com"},
                 "https://ca.example/dir",
                 std::nullopt,
                 pki::key_type::ec256,
                 {"first", "second"},
                 {}};

  reconcile_report run(bool act = true, bool with_issuer = true) {
    ca.now = now;
    executor_deps deps{
        store, anchors, with_issuer ? &ca : nullptr, {&first, &second}, {}, [this] { return now; },
        &cache};
    deps.random = [this] { return random_bits; };
    deps.budgets = budgets ? &*budgets : nullptr;
    asio::io_context ioc;
    reconcile_report out;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { out = co_await reconcile(spec, deps, act); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
    return out;
  }
};

struct row {
  const char* name;
  bool held = false;  ///< a valid certificate is in the store, served by both
  std::function<void(world&)> fault;
  bool act = true, with_issuer = true;
  // What must come of it:
  int orders = 0;
  int first_pushes = 0, second_pushes = 0;
  bool failed = false;
  std::optional<failure_kind> kind;
  std::optional<std::chrono::seconds> look_again_within;  ///< requeue_at - now at most
  int failures_recorded = 0;
};

std::ostream& operator<<(std::ostream& os, const row& r) {
  return os << r.name;
}

class ReconcileSteps : public ::testing::TestWithParam<row> {};

TEST_P(ReconcileSteps, Row) {
  const row& r = GetParam();
  world w;
  if (r.held) {
    w.run();  // issued and pushed to both
    w.ca.orders = 0;
    w.first.pushes = w.second.pushes = 0;
    w.now += 1h;
  }
  if (r.fault) r.fault(w);
  auto report = w.run(r.act, r.with_issuer);
  EXPECT_EQ(w.ca.orders, r.orders);
  EXPECT_EQ(w.first.pushes, r.first_pushes);
  EXPECT_EQ(w.second.pushes, r.second_pushes);
  EXPECT_EQ(report.failed, r.failed) << (report.outcomes.empty() ? "" : report.outcomes.back());
  EXPECT_EQ(report.failed_kind, r.kind);
  if (r.look_again_within) {
    ASSERT_TRUE(report.requeue_at);
    EXPECT_LE(*report.requeue_at - w.now, *r.look_again_within);
    EXPECT_GT(*report.requeue_at, w.now);
  }
  auto rec = w.store.records.find("a.example.com");
  int failures = rec == w.store.records.end() ? 0 : rec->second.failures;
  if (w.cache.unsaved_records.count("a.example.com"))
    failures = w.cache.unsaved_records.at("a.example.com").record.failures;
  EXPECT_EQ(failures, r.failures_recorded);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReconcileSteps,
    ::testing::Values(
        row{"NothingHeldIsIssuedAndPushedEverywhere",
            false,
            {},
            true,
            true,
            1,
            1,
            1,
            false,
            {},
            {},
            0},
        row{"HeldAndServedNeedsNothing", true, {}, true, true, 0, 0, 0, false, {}, {}, 0},
        row{"PlanOnlyDoesNothing", false, {}, false, true, 0, 0, 0, false, {}, {}, 0},
        row{"WithoutAnIssuerNothingIsOrdered", false, {}, true, false, 0, 0, 0, false, {}, {}, 0},
        row{"AFailedOrderIsRecordedWithItsKindAndBacksOff", false,
            [](world& w) { w.ca.fail = failure_kind::validation; }, true, true, 1, 0, 0, true,
            failure_kind::validation, 1min, 1},
        row{"ARateLimitWaitsAnHour", false,
            [](world& w) { w.ca.fail = failure_kind::rate_limited; }, true, true, 1, 0, 0, true,
            failure_kind::rate_limited, 1h, 1},
        row{"AnUnreadableStoreDecidesNothing", true,
            [](world& w) {
              w.store.refuse_reads = true;
              w.cache.entries.clear();
              w.first.served.clear();
            },
            true, true, 0, 0, 0, true, failure_kind::store_io, 10min, 0},
        row{"ARefusedSaveStillServesAndOrdersOnce", false,
            [](world& w) { w.store.refuse_writes = true; }, true, true, 1, 1, 1, true,
            failure_kind::store_io, 1min, 0},
        row{"AnUnreadableTargetIsNeverWrittenBlind", false,
            [](world& w) { w.first.unreadable = true; }, true, true, 1, 0, 1, true,
            failure_kind::transport, 1min, 0},
        row{"AConflictFoundByLookingIsLookedAtLessOften", false,
            [](world& w) { w.first.foreign_at_observe = true; }, true, true, 1, 0, 1, true,
            failure_kind::conflict, 10min, 0},
        row{"ARefusedPushStopsAndLooksAgainSoon", false, [](world& w) { w.first.refuses = true; },
            true, true, 1, 0, 0, true, failure_kind::target_refused, 1min, 0},
        row{"AForeignHolderAtPushIsAConflictLookedAtLessOften", false,
            [](world& w) { w.first.foreign_holder = true; }, true, true, 1, 0, 0, true,
            failure_kind::conflict, 10min, 0},
        row{"ATargetThatDoesNotAnswerIsTransport", false, [](world& w) { w.first.silent = true; },
            true, true, 1, 0, 0, true, failure_kind::transport, 1min, 0},
        row{"AMissingCopyIsPushedAgainWithoutAnOrder",
            true,
            [](world& w) { w.second.served.clear(); },
            true,
            true,
            0,
            0,
            1,
            false,
            {},
            {},
            0}),
    [](const auto& info) { return std::string(info.param.name); });

// RFC 9773 through the executor: what renewalInfo answers is kept in the record, asked again
// only when due, and moves the renewal.
renewal_info_answer window_answer(sys_seconds start, sys_seconds end,
                                  std::optional<std::chrono::seconds> retry_after = {}) {
  renewal_info_answer a;
  a.offered = true;
  a.answer = acme::ari_answer::window;
  a.window = acme::renewal_window{start, end, {}};
  a.retry_after = retry_after;
  return a;
}

const stores::stored_certificate& record_of(world& w) {
  return w.store.records.at("a.example.com");
}

TEST(RenewalInfo, AskedAboutTheHeldCertificateAndAgainOnlyWhenDue) {
  world w;
  w.run();  // issued, pushed, then asked: this CA has no ARI
  ASSERT_EQ(w.ca.orders, 1);
  ASSERT_EQ(w.ca.asked.size(), 1u);
  const auto first_id = w.ca.asked[0];
  EXPECT_EQ(record_of(w).ari.cert_id, first_id);
  EXPECT_EQ(record_of(w).ari.leaf, record_of(w).fingerprint);
  EXPECT_FALSE(record_of(w).ari.offered);
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 24h);

  w.ca.renewal_info = window_answer(w.now + 24h * 60, w.now + 24h * 62);
  w.now += 1h;
  w.run();
  EXPECT_EQ(w.ca.asked.size(), 1u) << "not due yet";
  w.now += 24h;
  w.random_bits = 3600;
  auto report = w.run();
  ASSERT_EQ(w.ca.asked.size(), 2u);
  EXPECT_EQ(w.ca.asked[1], first_id);
  auto kept = record_of(w).ari.renew_at;
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, w.ca.renewal_info.window->start + 1h);
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 6h) << "no Retry-After: 6 h";
  EXPECT_NE(report.decision.reason.find("(ARI)"), std::string::npos) << report.decision.reason;

  // The same window again: the time chosen in it stays, whatever is drawn now.
  w.now += 6h;
  w.random_bits = 7200;
  w.run();
  ASSERT_EQ(w.ca.asked.size(), 3u);
  EXPECT_EQ(record_of(w).ari.renew_at, kept);
  // Another window: a new time in it.
  w.ca.renewal_info = window_answer(w.now + 24h * 50, w.now + 24h * 51, 10min);
  w.now += 6h;
  w.run();
  ASSERT_EQ(w.ca.asked.size(), 4u);
  EXPECT_EQ(record_of(w).ari.renew_at, w.ca.renewal_info.window->start + 2h);
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 10min) << "Retry-After honoured";
  EXPECT_EQ(w.ca.orders, 1);
}

TEST(RenewalInfo, AWindowInThePastRenewsAtOnceNamingTheCertificateReplaced) {
  world w;
  w.run();
  const auto first_id = w.ca.asked.at(0);
  const auto first_leaf = record_of(w).fingerprint;
  w.ca.renewal_info = window_answer(w.now - 48h, w.now - 24h);  // revoked, say
  w.now += 24h + 1s;
  w.run();
  ASSERT_EQ(w.ca.orders, 2);
  EXPECT_EQ(w.ca.contexts.back().replaces, first_id);
  EXPECT_NE(record_of(w).fingerprint, first_leaf);
  EXPECT_EQ(record_of(w).ari.leaf, record_of(w).fingerprint) << "asked anew about the new one";
  EXPECT_NE(record_of(w).ari.cert_id, first_id);
  EXPECT_TRUE(record_of(w).ari.early);
  EXPECT_EQ(w.first.served, record_of(w).fingerprint);

  // The CA answers "now" for the new certificate too: it is kept 1/50 of its lifetime first
  // (notBefore an hour back, notAfter 90 days on: 43.2 h), so orders do not follow one another.
  const auto issued = w.now;
  const auto due = issued - 1h + std::chrono::seconds(24h * 90 + 1h) / 50;
  w.now += 1h;
  auto waiting = w.run();
  EXPECT_EQ(w.ca.orders, 2);
  EXPECT_NE(waiting.decision.reason.find("renewal at " + pki::to_rfc3339(due)), std::string::npos)
      << waiting.decision.reason;
  EXPECT_NE(waiting.decision.reason.find("held back"), std::string::npos);
  ASSERT_TRUE(waiting.requeue_at);
  EXPECT_LE(*waiting.requeue_at, due);
  w.now = due;
  w.run();
  EXPECT_EQ(w.ca.orders, 3);
}

TEST(RenewalInfo, FailuresWaitAsRfc9773Says) {
  world w;
  w.run();
  renewal_info_answer down;
  down.offered = true;
  down.answer = acme::ari_answer::temporary;
  down.detail = "HTTP 503";
  w.ca.renewal_info = down;
  w.now = record_of(w).ari.next_poll;
  w.run();
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 1min);
  w.now += 1min;
  w.run();
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 2min) << "doubled";
  EXPECT_EQ(record_of(w).ari.failures, 2);
  w.ca.renewal_info.retry_after = 24h * 30;  // clamped to a day
  w.now += 2min;
  w.run();
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 24h);
  renewal_info_answer unusable;
  unusable.offered = true;
  unusable.answer = acme::ari_answer::long_term;
  unusable.detail = "renewalInfo has no suggestedWindow object";
  w.ca.renewal_info = unusable;
  w.now += 24h;
  auto report = w.run();
  EXPECT_EQ(record_of(w).ari.next_poll, w.now + 6h);
  EXPECT_EQ(record_of(w).ari.failures, 0);
  EXPECT_NE(report.decision.reason.find("1/3 of the lifetime left"), std::string::npos)
      << "no window: the local rule, with why: " << report.decision.reason;
  EXPECT_EQ(w.ca.orders, 1);
}

TEST(RenewalInfo, NotAskedWhenPlanningOnlyOrWhenTheCertificateIsReplacedAnyway) {
  world w;
  w.run();
  w.ca.asked.clear();
  w.now += 48h;
  w.run(/*act=*/false);
  EXPECT_TRUE(w.ca.asked.empty()) << "certherd plan asks no CA";
  w.spec.hosts = {"a.example.com", "b.example.com"};
  w.run();
  EXPECT_EQ(w.ca.orders, 2);
  ASSERT_EQ(w.ca.asked.size(), 1u) << "only about the new certificate";
  EXPECT_EQ(w.ca.asked[0], record_of(w).ari.cert_id);
  EXPECT_FALSE(w.ca.contexts.back().replaces.empty()) << "a host is shared: it replaces";
  w.spec.hosts = {"c.example.com"};
  w.run();
  EXPECT_TRUE(w.ca.contexts.back().replaces.empty()) << "no host in common: a new certificate";
}

// The budgets through the executor: an order over budget is planned for when it fits, visibly,
// and is neither sent nor counted as a failure.
TEST(Budgets, AnOrderOverBudgetWaitsVisiblyAndIsNoFailure) {
  world w;
  w.budgets.emplace(std::vector<rate_limit>{{"certificates_per_domain", 1, 24h}},
                    std::filesystem::path());
  w.run();
  ASSERT_EQ(w.ca.orders, 1);
  w.spec = {"b.example.com",
            {"b.example.com"},
            w.spec.directory,
            std::nullopt,
            pki::key_type::ec256,
            {"first"},
            {}};
  auto report = w.run();
  EXPECT_EQ(w.ca.orders, 1) << "not sent to fail at the CA";
  EXPECT_FALSE(report.failed);
  EXPECT_NE(report.decision.reason.find("waiting for the example.com budget (certificates per "
                                        "registered domain, 1 per 1 d) until"),
            std::string::npos)
      << report.decision.reason;
  // Looked at again within the hour (a refund may free the budget); held until it refills.
  ASSERT_TRUE(report.requeue_at);
  EXPECT_EQ(*report.requeue_at, w.now + 1h);
  ASSERT_TRUE(report.decision.held_back);
  EXPECT_EQ(report.decision.held_back->until, w.now + 24h);
  EXPECT_FALSE(w.store.records.count("b.example.com") &&
               w.store.records.at("b.example.com").failures > 0);
  w.now += 1h;
  w.run();
  EXPECT_EQ(w.ca.orders, 1) << "still held after an hour";
  w.now += 23h;
  w.run();
  EXPECT_EQ(w.ca.orders, 2) << "sent once the budget refilled";
}

TEST(Budgets, FailedValidationsWaitForTheBudgetBeyondTheBackoff) {
  world w;
  w.budgets.emplace(std::vector<rate_limit>{{"failed_authorizations", 1, 1h}},
                    std::filesystem::path());
  w.ca.fail = failure_kind::validation;
  w.run();
  ASSERT_EQ(w.ca.orders, 1);
  w.now += 2min;  // past the first backoff (1 min)
  auto report = w.run();
  EXPECT_EQ(w.ca.orders, 1) << "a second failure within the hour is not risked";
  EXPECT_NE(report.decision.reason.find("waiting for the a.example.com budget (failed "
                                        "validations per name"),
            std::string::npos)
      << report.decision.reason;
  w.now += 1h;
  w.run();
  EXPECT_EQ(w.ca.orders, 2);
}

TEST(Budgets, ARenewalOfTheSameSetIsNotChargedToTheDomain) {
  world w;
  w.budgets.emplace(std::vector<rate_limit>{{"certificates_per_domain", 1, 24h * 7}},
                    std::filesystem::path());
  w.run();
  auto forced = w.store.records.at("a.example.com");
  forced.reissue = "renewal forced by certherd renew --force";
  ASSERT_TRUE(w.store.save(forced));
  w.now += 1h;
  w.run();
  EXPECT_EQ(w.ca.orders, 2) << "the same set renewed: exempt, as Let's Encrypt counts it";
}

TEST(RenewalInfo, ARecordWrittenElsewhereWhileTheCaIsAskedKeepsWhatWasWritten) {
  world w;
  w.run();
  ASSERT_EQ(w.ca.orders, 1);
  w.ca.renewal_info = window_answer(w.now + 24h * 60, w.now + 24h * 62);
  // `certherd revoke` marks the record while the running instance asks the CA.
  bool marked_once = false;
  w.ca.while_asked = [&] {
    if (std::exchange(marked_once, true)) return;  // asked again about the new one: no mark
    auto marked = w.store.records.at("a.example.com");
    marked.reissue = "revoked: keyCompromise";
    ASSERT_TRUE(w.store.save(marked));
  };
  w.now += 25h;
  w.run();
  EXPECT_EQ(w.ca.orders, 2) << "the mark was kept and acted on in the same pass";
  EXPECT_TRUE(record_of(w).reissue.empty()) << "cleared by the new certificate";
}

TEST(RenewalInfo, ACaThatCannotBeReachedLeavesTheRecordAlone) {
  world w;
  w.ca.renewal_info.offered = true;
  w.ca.renewal_info.reached = false;
  w.run();
  ASSERT_EQ(w.ca.orders, 1);
  EXPECT_EQ(w.ca.asked.size(), 1u);
  EXPECT_FALSE(record_of(w).ari.offered) << "nothing learnt";
  EXPECT_EQ(record_of(w).ari.next_poll, sys_seconds{});
  const int writes = w.store.writes;
  w.now += 5min;
  w.run();
  EXPECT_EQ(w.ca.asked.size(), 1u) << "not asked again within 10 minutes";
  w.now += 6min;
  w.run();
  EXPECT_EQ(w.ca.asked.size(), 2u) << "asked again after them";
  EXPECT_EQ(w.store.writes, writes) << "and no record written for it";
  EXPECT_EQ(w.ca.orders, 1);
}

}  // namespace
}  // namespace certherd::reconcilers
