// Retry-After parsing and the poll schedule: fast start, growth to a cap, Retry-After honoured
// within clamps, and a hard bound on the total wait.
#include "clients/acme/polling.hpp"

#include <gtest/gtest.h>

namespace certherd::acme {
namespace {

using namespace std::chrono_literals;
const auto kNow = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37

TEST(RetryAfter, Seconds) {
  EXPECT_EQ(parse_retry_after("120", kNow), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", kNow), 0s);
}

TEST(RetryAfter, HttpDate) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", kNow), 60s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", kNow), 0s);  // past: now
}

// Issue 9, defect 6: a far-future Retry-After never parks a certificate for years nor overflows
// a timer: at most a day, as Let's Encrypt documents.
TEST(RetryAfter, FarFutureIsClampedToADay) {
  EXPECT_EQ(parse_retry_after("8000000000", kNow), kMaxRetryAfter);
  EXPECT_EQ(parse_retry_after("86401", kNow), 24h);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", kNow), kMaxRetryAfter);
  EXPECT_EQ(parse_retry_after("Sat, 01 Jan 2300 00:00:00 GMT", kNow), kMaxRetryAfter);
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 99999999999999 08:50:37 GMT", kNow));
}

TEST(RetryAfter, Garbage) {
  EXPECT_FALSE(parse_retry_after("", kNow));
  EXPECT_FALSE(parse_retry_after("soon", kNow));
  EXPECT_FALSE(parse_retry_after("-5", kNow));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Foo 1994 08:50:37 GMT", kNow));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:50:37 PST", kNow));
  EXPECT_FALSE(parse_retry_after("99999999999999999999999", kNow));
}

TEST(PollSchedule, StartsFastAndGrowsToCap) {
  poll_schedule s({100ms, 1s, 2.0, 60s, 1h});
  std::vector<std::chrono::milliseconds> got;
  for (int i = 0; i < 6; ++i)
    got.push_back(*s.next(std::nullopt));
  EXPECT_EQ(got, (std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
}

TEST(PollSchedule, HonoursRetryAfterWithinClamps) {
  poll_schedule s({100ms, 1s, 2.0, 30s, 1h});
  EXPECT_EQ(s.next(5s), 5s);
  EXPECT_EQ(s.next(0s), 100ms);   // never spin
  EXPECT_EQ(s.next(3600s), 30s);  // never stall on one odd header
}

TEST(PollSchedule, StopsAtTheBound) {
  poll_schedule s({100ms, 1s, 2.0, 60s, 1s});
  std::chrono::milliseconds total{0};
  int polls = 0;
  while (auto w = s.next(std::nullopt)) {
    total += *w;
    ++polls;
    ASSERT_LT(polls, 100);
  }
  EXPECT_EQ(total, 1s);
  EXPECT_EQ(s.waited(), 1s);
}

}  // namespace
}  // namespace certherd::acme
