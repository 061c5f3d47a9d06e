// The registered domain by the Public Suffix List (pki/registered_domain, Debian's libpsl and
// publicsuffix): what Let's Encrypt's certificates-per-domain limit counts under.
#include "pki/registered_domain.hpp"

#include <gtest/gtest.h>

namespace certherd::pki {
namespace {

TEST(RegisteredDomain, ByThePublicSuffixList) {
  EXPECT_EQ(registered_domain("example.com"), "example.com");
  EXPECT_EQ(registered_domain("a.b.shop.example.com"), "example.com");
  EXPECT_EQ(registered_domain("shop.example.co.uk"), "example.co.uk");
  EXPECT_EQ(registered_domain("www.city.kawasaki.jp"), "city.kawasaki.jp") << "an exception rule";
  EXPECT_EQ(registered_domain("tenant.github.io"), "tenant.github.io")
      << "the private section counts too, as Let's Encrypt counts it";
  EXPECT_EQ(registered_domain("co.uk"), std::nullopt) << "a public suffix registers nothing";
  EXPECT_EQ(registered_domain("com"), std::nullopt);
  EXPECT_EQ(registered_domain(""), std::nullopt);
  EXPECT_EQ(registered_domain(std::string("exa\0mple.com", 12)), std::nullopt);
  // One budget per domain however a tenant spells it.
  EXPECT_EQ(registered_domain("Shop.Example.CO.UK"), "example.co.uk");
  EXPECT_EQ(registered_domain("EXAMPLE.com"), "example.com");
  EXPECT_EQ(registered_domain("a.example.com."), "example.com");
  EXPECT_EQ(registered_domain("a..example.com"), std::nullopt);
  EXPECT_EQ(registered_domain(".example.com"), std::nullopt);
}

}  // namespace
}  // namespace certherd::pki
