// Host-name normalization and the reasons a name is refused, one row per case.
#include "pki/names.hpp"

#include <gtest/gtest.h>

namespace certherd::pki {
namespace {

TEST(Names, Normalizes) {
  EXPECT_EQ(normalize_host("  WWW.Example.COM. "), "www.example.com");
  EXPECT_EQ(normalize_host("a.b"), "a.b");
}

TEST(Names, SplitsCommaListsKeepingEmptyItems) {
  using v = std::vector<std::string_view>;
  EXPECT_EQ(split_list(""), v{""});
  EXPECT_EQ(split_list("a"), v{"a"});
  EXPECT_EQ(split_list("a,,b"), (v{"a", "", "b"}));
  EXPECT_EQ(split_list(" a , b,"), (v{" a ", " b", ""}));
}

struct name_case {
  std::string name;
  bool ok;
  std::string reason;  // a fragment of the message
};

class NameCheck : public ::testing::TestWithParam<name_case> {};

TEST_P(NameCheck, Decides) {
  const auto& c = GetParam();
  auto r = check_host(c.name);
  EXPECT_EQ(r.has_value(), c.ok) << c.name;
  if (!r) {
    EXPECT_NE(r.error().detail.find(c.reason), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find(c.name.substr(0, 20)), std::string::npos)
        << "the message names the input: " << r.error().detail;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, NameCheck,
    ::testing::Values(
        name_case{"example.com", true, ""}, name_case{"a-b.c0.example", true, ""},
        name_case{"xn--bcher-kva.example", true, ""}, name_case{"", false, "empty name"},
        name_case{"*.example.com", false, "wildcard"}, name_case{"10.0.0.1", false, "IP"},
        name_case{"::1", false, "IP"}, name_case{"localhost", false, "single-label"},
        name_case{"a..b", false, "empty label"}, name_case{"-a.example", false, "starts or ends"},
        name_case{"a_b.example", false, "a-z, 0-9"},
        name_case{"b\xc3\xbc"
                  "cher.example",
                  false, "punycode"},
        name_case{std::string(64, 'a') + ".example", false, "at most 63"},
        name_case{std::string(250, 'a').insert(50, ".") + ".com", false, "at most 253"}));

}  // namespace
}  // namespace certherd::pki
