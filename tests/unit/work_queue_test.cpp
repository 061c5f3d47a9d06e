// The runtime's timers and the work queue's guarantees: one entry per certificate, what changed
// while it was being reconciled goes round again, workers wait without polling.
#include "controller/work_queue.hpp"
#include "controller/runtime.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace certherd::controller {
namespace {

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

TEST(DueTimes, OneTimePerNameEarliestFirst) {
  using namespace std::chrono_literals;
  const due_times::time_point t0{std::chrono::hours(1000)};
  due_times due;
  EXPECT_FALSE(due.earliest());
  EXPECT_TRUE(due.take_due(t0 + 100h).empty());
  due.set("c", t0 + 30s);
  due.set("a", t0 + 10s);
  due.set("b", t0 + 20s);
  due.set("same-time", t0 + 20s);
  EXPECT_EQ(due.earliest(), t0 + 10s);
  due.set("a", t0 + 40s);  // moved, not added
  EXPECT_EQ(due.size(), 4u);
  EXPECT_EQ(due.earliest(), t0 + 20s);
  EXPECT_TRUE(due.take_due(t0 + 19s).empty());
  auto taken = due.take_due(t0 + 30s);
  ASSERT_EQ(taken.size(), 3u);
  EXPECT_EQ(taken[2], "c");  // earliest first
  EXPECT_EQ(std::set<std::string>(taken.begin(), taken.begin() + 2),
            (std::set<std::string>{"b", "same-time"}));
  EXPECT_EQ(due.size(), 1u);
  EXPECT_EQ(due.earliest(), t0 + 40s);
  due.erase("a");
  due.erase("never-there");
  EXPECT_FALSE(due.earliest());
  due.set("x", t0);
  due.clear();
  EXPECT_TRUE(due.take_due(t0 + 100h).empty());
}

}  // namespace
}  // namespace certherd::controller
