// The event websocket's reconnect policy (clients/rancher/reconnect), without sockets: a renewal
// reconnects at once, failures back off with jitter up to the cap, and only a session that
// lasted resets the backoff.
#include "clients/rancher/reconnect.hpp"

#include <gtest/gtest.h>

namespace certherd::rancher {
namespace {

using namespace std::chrono_literals;

TEST(Reconnect, FailuresDoubleTheBackoffUpToTheCap) {
  reconnect_policy p(500ms, 4s);
  EXPECT_EQ(p.next(session_end::not_connected, 0ms, 0), 500ms);
  EXPECT_EQ(p.next(session_end::not_connected, 0ms, 0), 1000ms);
  EXPECT_EQ(p.next(session_end::not_connected, 0ms, 0), 2000ms);
  EXPECT_EQ(p.next(session_end::not_connected, 0ms, 0), 4000ms);
  EXPECT_EQ(p.next(session_end::not_connected, 0ms, 0), 4000ms) << "capped";
}

TEST(Reconnect, JitterIsAtMostHalfTheBackoff) {
  for (std::uint64_t r : {0ull, 1ull, 250ull, 251ull, 999999ull}) {
    reconnect_policy p(500ms, 30s);
    auto wait = p.next(session_end::dropped, 0ms, r);
    EXPECT_GE(wait, 500ms);
    EXPECT_LE(wait, 750ms) << r;
  }
}

TEST(Reconnect, OnlyASessionThatLastedResetsTheBackoff) {
  reconnect_policy p(500ms, 30s);
  for (int i = 0; i < 4; ++i)
    p.next(session_end::not_connected, 0ms, 0);
  EXPECT_EQ(p.backoff(), 8s);
  // Accepted and dropped at once, or logged out at once: still backing off.
  EXPECT_EQ(p.next(session_end::dropped, 2s, 0), 8s);
  EXPECT_EQ(p.next(session_end::logout, 1s, 0), 16s);
  // A session of a minute: back to the minimum.
  EXPECT_EQ(p.next(session_end::dropped, 60s, 0), 500ms);
  EXPECT_EQ(p.next(session_end::logout, 60s, 0), 500ms);
}

TEST(Reconnect, ARenewalReconnectsAtOnce) {
  reconnect_policy p(500ms, 30s);
  p.next(session_end::not_connected, 0ms, 0);
  p.next(session_end::not_connected, 0ms, 0);
  EXPECT_EQ(p.next(session_end::renewal, 11h, 12345), 0ms);
  EXPECT_EQ(p.backoff(), 500ms) << "the renewed session had lasted";
}

}  // namespace
}  // namespace certherd::rancher
