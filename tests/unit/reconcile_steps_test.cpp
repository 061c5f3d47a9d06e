// The reconcile's steps (reconcilers/certificate_executor: read what is held, observe, plan, carry
// out), one table row per branch, each step failing in turn: a scripted store (reads and writes
// refused on demand), a scripted issuer (a self-signed certificate per order, or a failure of a
// given kind) and two scripted targets (unreadable or refusing on demand). What each row checks:
// what was ordered and pushed, whether the reconcile failed and with which kind, and when the
// certificate is looked at again.
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
  asio::awaitable<outcome<issued_certificate>> async_issue(cert_spec spec) override {
    ++orders;
    if (fail) co_return failure{*fail, "scripted failure", {}, {}};
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    std::vector<pki::certificate> chain{*pki::make_self_signed(key, spec.hosts, now, 24h * 90)};
    co_return issued_certificate{std::move(chain), std::move(key)};
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

}  // namespace
}  // namespace certherd::reconcilers
