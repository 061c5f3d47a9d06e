// The fleet's status kept as things change (controller/fleet_view): the state rules at their
// edges, and the counts, the order of attention and the clock-driven changes staying what a
// classification from scratch says, over random sequences of changes.
#include "controller/fleet_view.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

using namespace certherd;
using namespace certherd::controller;
using namespace std::chrono_literals;

namespace {

const sys_seconds t0{std::chrono::seconds(1'800'000'000)};

cert_facts held(std::string name, std::chrono::seconds lifetime, std::chrono::seconds left) {
  cert_facts f;
  f.name = std::move(name);
  f.hosts = {f.name};
  f.reconciled = true;
  f.held = true;
  f.not_after = t0 + left;
  f.not_before = f.not_after - lifetime;
  return f;
}

constexpr std::chrono::seconds kDay = 24h;

// A query, its fields set by name (GCC 12 warns on designated initializers that leave some out).
struct ask {
  std::optional<cert_state> state;
  bool attention = false;
  std::string text;
  std::size_t page = 1, per_page = 100;
  fleet_view::selection of(const fleet_view& v) const {
    fleet_view::query q;
    q.state = state;
    q.attention = attention;
    q.text = text;
    q.page = page;
    q.per_page = per_page;
    return v.select(q);
  }
};
ask with(void (*set)(ask&)) {  // with([](ask& a) { a.page = 2; }).of(view)
  ask a;
  set(a);
  return a;
}

}  // namespace

TEST(FleetState, A90DayCertificateIsExpiringFromSevenDaysBeforeItsEnd) {
  auto f = held("a.example.com", 90 * kDay, 7 * kDay + 1s);
  auto v = classify(f, t0);
  EXPECT_EQ(v.state, cert_state::ready);
  ASSERT_TRUE(v.recheck_at);
  EXPECT_EQ(*v.recheck_at, t0 + 1s);  // the window opens then
  EXPECT_EQ(classify(f, t0 + 1s).state, cert_state::expiring);
  // Expired and not failing: still expiring (the card says when it expired).
  EXPECT_EQ(classify(f, t0 + 8 * kDay).state, cert_state::expiring);
}

TEST(FleetState, ASixDayCertificateIsExpiringOnlyInTheSecondHalfOfItsLife) {
  auto f = held("short.example.com", 6 * kDay, 3 * kDay + 1s);
  EXPECT_EQ(classify(f, t0).state, cert_state::ready);
  EXPECT_EQ(classify(f, t0 + 1s).state, cert_state::expiring);
}

TEST(FleetState, FailingComesBeforeEverythingElse) {
  auto f = held("a.example.com", 90 * kDay, 2 * kDay);
  f.failures = 3;
  f.last_error_kind = failure_kind::validation;
  f.conflict = "a target holds another CA's certificate";
  EXPECT_EQ(classify(f, t0).state, cert_state::failing);
  f.failures = 0;
  f.store_failures = 1;  // the record could not be saved
  EXPECT_EQ(classify(f, t0).state, cert_state::failing);
  f.store_failures = 0;
  f.last_failed = true;  // a push that failed, say
  EXPECT_EQ(classify(f, t0).state, cert_state::failing);
  f.last_failed = false;
  EXPECT_EQ(classify(f, t0).state, cert_state::expiring);
  f.not_after = t0 + 60 * kDay;
  EXPECT_EQ(classify(f, t0).state, cert_state::conflict);
}

TEST(FleetState, TheCasRateLimitIsAWaitNotAFailure) {
  auto f = held("a.example.com", 90 * kDay, 20 * kDay);
  f.failures = 1;
  f.last_failed = true;
  f.last_error_kind = failure_kind::rate_limited;
  f.next_try = t0 + 3h;
  EXPECT_EQ(classify(f, t0).state, cert_state::waiting);
  EXPECT_EQ(classify(f, t0 + 4h).state, cert_state::waiting);  // until it issues or fails otherwise
  f.store_failures = 1;  // its record unsaved as well: that is a failure
  EXPECT_EQ(classify(f, t0).state, cert_state::failing);
}

TEST(FleetState, AnOrderHeldBackWaitsUntilItsTime) {
  auto f = held("a.example.com", 90 * kDay, 20 * kDay);
  f.waiting_until = t0 + 1h;
  f.waiting_reason = "waiting for the example.com budget";
  auto v = classify(f, t0);
  EXPECT_EQ(v.state, cert_state::waiting);
  ASSERT_TRUE(v.recheck_at);
  EXPECT_EQ(*v.recheck_at, t0 + 1h);
  EXPECT_EQ(classify(f, t0 + 1h).state, cert_state::ready);
  // A new name held back: waiting, not pending.
  cert_facts n;
  n.name = "new.example.com";
  n.reconciled = true;
  n.waiting_until = t0 + 1h;
  EXPECT_EQ(classify(n, t0).state, cert_state::waiting);
  EXPECT_EQ(classify(n, t0 + 2h).state, cert_state::pending);
  n.reconciled = false;
  n.waiting_until.reset();
  EXPECT_EQ(classify(n, t0).state, cert_state::pending);
}

TEST(FleetState, NamesRoundTrip) {
  for (auto s : kCertStates)
    EXPECT_EQ(cert_state_from(to_string(s)), s);
  EXPECT_FALSE(cert_state_from("Failing"));
  EXPECT_FALSE(cert_state_from(""));
}

TEST(FleetView, SelectsByStateTextAndPageInTheOrderOfAttention) {
  fleet_view view;
  for (int i = 0; i < 250; ++i) {
    auto f = held(fmt::format("host{:03}.example.com", i), 90 * kDay, 60 * kDay);
    f.sources = {i % 50 == 0 ? "label on shop/web" : "DOMAINS"};
    if (i % 100 == 7) f.failures = 1;
    if (i % 100 == 42) f.not_after = t0 + 2 * kDay;
    view.put(f, t0);
  }
  EXPECT_EQ(view.size(), 250u);
  EXPECT_EQ(view.count(cert_state::failing), 3u);
  EXPECT_EQ(view.count(cert_state::expiring), 3u);
  EXPECT_EQ(view.count(cert_state::ready), 244u);

  auto all = with([](ask& a) { a.per_page = 100; }).of(view);
  EXPECT_EQ(all.matching, 250u);
  EXPECT_EQ(all.pages, 3u);
  ASSERT_EQ(all.rows.size(), 100u);
  EXPECT_EQ(all.rows[0]->facts.name, "host007.example.com");
  EXPECT_EQ(all.rows[2]->facts.name, "host207.example.com");
  EXPECT_EQ(all.rows[3]->facts.name, "host042.example.com");
  EXPECT_EQ(all.rows[6]->facts.name, "host000.example.com");  // then the ready ones by name

  auto last = with([](ask& a) {
                a.page = 3;
                a.per_page = 100;
              }).of(view);
  EXPECT_EQ(last.rows.size(), 50u);
  EXPECT_EQ(last.rows.back()->facts.name, "host249.example.com");
  auto past = with([](ask& a) {
                a.page = 4;
                a.per_page = 100;
              }).of(view);
  EXPECT_EQ(past.page, 3u) << "past the end: the last page";
  EXPECT_EQ(past.rows.size(), 50u);

  auto attention = with([](ask& a) { a.attention = true; }).of(view);
  EXPECT_EQ(attention.matching, 6u);
  EXPECT_EQ(attention.rows.size(), 6u);

  auto expiring = with([](ask& a) { a.state = cert_state::expiring; }).of(view);
  ASSERT_EQ(expiring.rows.size(), 3u);
  EXPECT_EQ(expiring.rows[1]->facts.name, "host142.example.com");

  // Text: a substring of a name, a host or a source, whatever its case.
  auto shop = with([](ask& a) { a.text = "SHOP/"; }).of(view);
  EXPECT_EQ(shop.matching, 5u);
  auto one = with([](ask& a) {
               a.text = "host13";
               a.page = 2;
               a.per_page = 4;
             }).of(view);
  EXPECT_EQ(one.matching, 10u);
  ASSERT_EQ(one.rows.size(), 4u);
  EXPECT_EQ(one.rows[0]->facts.name, "host134.example.com");
  EXPECT_EQ(with([](ask& a) {
              a.state = cert_state::failing;
              a.text = "host2";
            })
                .of(view)
                .matching,
            1u);
  EXPECT_EQ(with([](ask& a) { a.text = "nothing like it"; }).of(view).matching, 0u);
}

TEST(FleetView, RendersARowOnlyWhenItChanges) {
  std::map<std::string, int> renders;
  fleet_view view([&renders](fleet_row& row, sys_seconds) {
    ++renders[row.facts.name];
    row.json = std::string(to_string(row.verdict.state));
  });
  view.put(held("a.example.com", 90 * kDay, 7 * kDay + 10s), t0);
  view.put(held("b.example.com", 90 * kDay, 60 * kDay), t0);
  EXPECT_EQ(renders["a.example.com"], 1);
  view.advance(t0 + 5s);
  EXPECT_EQ(renders["a.example.com"], 1);
  view.advance(t0 + 10s);  // a's window opens
  EXPECT_EQ(renders["a.example.com"], 2);
  EXPECT_EQ(renders["b.example.com"], 1);
  EXPECT_EQ(view.find("a.example.com")->json, "expiring");
  EXPECT_EQ(view.count(cert_state::expiring), 1u);
  view.erase("a.example.com");
  EXPECT_EQ(view.count(cert_state::expiring), 0u);
  EXPECT_EQ(view.find("a.example.com"), nullptr);
  view.erase("never.example.com");
  EXPECT_EQ(view.size(), 1u);
}

// Random puts, erases and clock steps: after each, every row's state, the counts and the order
// are what classifying every row from scratch at that time says.
TEST(FleetView, StaysWhatAClassificationFromScratchSays) {
  std::mt19937 rng(20261205);
  auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  fleet_view view;
  std::map<std::string, cert_facts> truth;
  sys_seconds now = t0;
  for (int step = 0; step < 4000; ++step) {
    std::string name = fmt::format("n{}.example.com", pick(60));
    int op = pick(10);
    if (op < 6) {
      cert_facts f;
      f.name = name;
      f.reconciled = pick(5) != 0;
      f.held = pick(4) != 0;
      auto lifetime = pick(2) ? 90 * kDay : 6 * kDay;
      f.not_after = now + std::chrono::seconds(pick(static_cast<int>(lifetime.count())));
      f.not_before = f.not_after - lifetime;
      if (pick(6) == 0) f.failures = 1 + pick(3);
      if (pick(8) == 0) f.last_failed = true;
      if (pick(6) == 0) f.last_error_kind = failure_kind::rate_limited;
      if (pick(5) == 0) f.waiting_until = now + std::chrono::seconds(pick(3 * 86400));
      if (pick(10) == 0) f.conflict = "another CA's";
      if (pick(12) == 0) f.store_failures = 1;
      truth[name] = f;
      view.put(f, now);
    } else if (op < 7) {
      truth.erase(name);
      view.erase(name);
    } else {
      now += std::chrono::seconds(pick(2 * 86400));
      view.advance(now);
    }
    ASSERT_EQ(view.size(), truth.size());
    std::array<std::size_t, kCertStates.size()> counts{};
    std::vector<std::pair<int, std::string>> order;
    for (const auto& [n, f] : truth) {
      auto s = classify(f, now).state;
      counts[static_cast<std::size_t>(s)] += 1;
      order.emplace_back(static_cast<int>(s), n);
      const fleet_row* row = view.find(n);
      ASSERT_NE(row, nullptr);
      ASSERT_EQ(row->verdict.state, s) << n << " at step " << step;
    }
    for (auto s : kCertStates)
      ASSERT_EQ(view.count(s), counts[static_cast<std::size_t>(s)]) << to_string(s);
    // The index by time holds one entry per row that has a recheck time, none stale.
    std::size_t with_recheck = 0;
    for (const auto& [n, row] : view.by_name())
      with_recheck += row.verdict.recheck_at.has_value();
    ASSERT_EQ(view.rechecks(), with_recheck) << "at step " << step;
    std::sort(order.begin(), order.end());
    auto page = with([](ask& a) { a.per_page = 0; }).of(view);
    ASSERT_EQ(page.rows.size(), order.size());
    for (std::size_t i = 0; i < order.size(); ++i)
      ASSERT_EQ(page.rows[i]->facts.name, order[i].second);
  }
}
