// The command layer's one io_context harness (controller/command.hpp): a task's value comes back,
// what escapes it is rethrown, a task that never ends is cancelled at the deadline and has
// unwound (its locals destroyed) before run_to_end returns, one deaf to cancellation is abandoned
// with the io_context left stopped, and otherwise the io_context is ready for the next task; a
// failure becomes its exit code.
#include "controller/command.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

namespace certherd::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<int> after(std::chrono::milliseconds wait, int value) {
  asio::steady_timer t(co_await asio::this_coro::executor, wait);
  co_await t.async_wait(asio::use_awaitable);
  co_return value;
}

asio::awaitable<void> throws() {
  co_await after(1ms, 0);
  throw std::runtime_error("escaped");
}

// Never ends by itself, as a built-in responder's accept loop does not.
asio::awaitable<void> forever() {
  asio::steady_timer t(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  co_await t.async_wait(asio::use_awaitable);
}

TEST(RunToEnd, ReturnsTheTasksValueAndLeavesTheContextReady) {
  asio::io_context ioc;
  auto first = run_to_end(ioc, after(1ms, 7));
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 7);
  auto second = run_to_end(ioc, after(1ms, 8));  // the same io_context, run again
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, 8);
}

TEST(RunToEnd, StopsWhenTheTaskEndsEvenWithOtherWorkPending) {
  asio::io_context ioc;
  asio::co_spawn(ioc, forever(), asio::detached);  // a responder's accept loop, say
  auto got = run_to_end(ioc, after(1ms, 3));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 3);
}

TEST(RunToEnd, RethrowsWhatEscapesTheTask) {
  asio::io_context ioc;
  EXPECT_THROW(run_to_end(ioc, throws()), std::runtime_error);
}

// Sets `gone` when its frame is destroyed, however it ends.
asio::awaitable<void> forever_noting(bool& gone) {
  struct note {
    bool& gone;
    ~note() { gone = true; }
  } n{gone};
  co_await forever();
}

// Waits an hour and will not be cancelled.
asio::awaitable<void> deaf() {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  asio::steady_timer t(co_await asio::this_coro::executor, 1h);
  co_await t.async_wait(asio::use_awaitable);
}

TEST(RunToEnd, GivesUpAtTheDeadlineOnceTheTaskHasUnwound) {
  asio::io_context ioc;
  bool gone = false;
  auto got = run_to_end(ioc, forever_noting(gone), std::chrono::steady_clock::now() + 20ms);
  EXPECT_FALSE(got) << "a task that never ends is cut off by the backstop";
  EXPECT_TRUE(gone) << "what the task held is released before run_to_end returns";
  EXPECT_FALSE(ioc.stopped());
  auto done = run_to_end(ioc, after(1ms, 1), std::chrono::steady_clock::now() + 10s);
  ASSERT_TRUE(done) << "a task that ends before its deadline is not cut off";
  EXPECT_EQ(*done, 1);
}

TEST(RunToEnd, ATaskDeafToCancellationIsAbandonedWithTheContextStopped) {
  asio::io_context ioc;
  auto got = run_to_end(ioc, deaf(), std::chrono::steady_clock::now() + 20ms, 50ms);
  EXPECT_FALSE(got);
  EXPECT_TRUE(ioc.stopped()) << "it must not run again: the abandoned task would go on";
}

TEST(Command, ExitCodeOfAFailureFollowsItsKind) {
  EXPECT_EQ(exit_code_of(fail(failure_kind::configuration, "DOMAINS")), exit_usage);
  for (auto k : {failure_kind::store_io, failure_kind::transport, failure_kind::rate_limited,
                 failure_kind::target_refused, failure_kind::internal}) {
    EXPECT_EQ(exit_code_of(fail(k, "x")), exit_failed) << to_string(k);
  }
}

}  // namespace
}  // namespace certherd::controller
