#include "clients/acme/nonce_pool.hpp"

#include <gtest/gtest.h>

namespace certherd::acme {
namespace {

TEST(NoncePool, UsesNewestFirstAndEachOnce) {
  nonce_pool pool(3);
  EXPECT_FALSE(pool.take());
  pool.add("a");
  pool.add("b");
  pool.add("");  // absent header: ignored
  EXPECT_EQ(pool.take(), "b");
  EXPECT_EQ(pool.take(), "a");
  EXPECT_FALSE(pool.take());
}

TEST(NoncePool, DropsOldestBeyondCapacity) {
  nonce_pool pool(2);
  pool.add("1");
  pool.add("2");
  pool.add("3");
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.take(), "3");
  EXPECT_EQ(pool.take(), "2");
  EXPECT_FALSE(pool.take());
}

}  // namespace
}  // namespace certherd::acme
