// Classification by chain verification, never by issuer names: test CAs stand in for each kind
// of root, and the real staging roots and the system's ISRG roots are loaded as shipped.
#include "pki/classification.hpp"

#include <gtest/gtest.h>

namespace certherd::pki {
namespace {

using namespace std::chrono_literals;
const sys_seconds kNow{std::chrono::seconds(1'800'000'000)};

struct test_ca {
  private_key key = *private_key::generate(key_type::ec256);
  certificate cert;
  explicit test_ca(const std::string& cn) : cert(*make_ca_certificate(key, cn, kNow, 24h * 365)) {}
  std::vector<certificate> issue(const std::string& name, sys_seconds at = kNow) const {
    auto leaf_key = *private_key::generate(key_type::ec256);
    return {*sign_certificate(cert, key, leaf_key, {name}, at, 24h * 90)};
  }
};

TEST(Classification, ByVerificationAgainstEachKindOfRoot) {
  test_ca prod("Test Production Root"), stg("Test Staging Root"), custom("Pebble Root"),
      other("Some Other CA");
  trust_anchors anchors{{prod.cert}, {stg.cert}, {custom.cert}};
  EXPECT_EQ(classify(prod.issue("a.example"), anchors), issuer_class::production);
  EXPECT_EQ(classify(stg.issue("a.example"), anchors), issuer_class::staging);
  EXPECT_EQ(classify(custom.issue("a.example"), anchors), issuer_class::custom);
  EXPECT_EQ(classify(other.issue("a.example"), anchors), issuer_class::foreign);
  auto key = *private_key::generate(key_type::ec256);
  std::vector<certificate> self{*make_self_signed(key, {"a.example"}, kNow, 24h)};
  EXPECT_EQ(classify(self, anchors), issuer_class::self_signed);
  EXPECT_EQ(classify({}, anchors), issuer_class::foreign);
}

// A start-up over thousands of certificates of one CA verifies the issuer's path once; every leaf
// is still checked against its issuer (signature, name, key identifier, purpose).
TEST(Classification, AVerifiedIssuerIsRememberedAndEveryLeafStillChecked) {
  test_ca root("Remembered Root");
  auto inter_key = *private_key::generate(key_type::ec256);
  auto inter = *sign_intermediate(root.cert, root.key, inter_key, "Remembered R1", kNow, 24h * 365);
  trust_anchors anchors{{root.cert}, {}, {}};
  anchors.id = 0x5eed'0001;  // as load_trust_anchors would set it
  auto leaf_of = [&](const certificate& issuer, const private_key& key, const std::string& name) {
    auto leaf_key = *private_key::generate(key_type::ec256);
    return *sign_certificate(issuer, key, leaf_key, {name}, kNow, 24h * 90);
  };
  for (int i = 0; i < 20; ++i) {
    std::vector<certificate> chain{leaf_of(inter, inter_key, "h" + std::to_string(i) + ".example"),
                                   inter};
    EXPECT_EQ(classify(chain, anchors), issuer_class::production) << i;
  }
  // An impostor intermediate: the same name, another key, not signed by the root.
  auto fake_key = *private_key::generate(key_type::ec256);
  test_ca fake_root("Remembered Root");
  auto fake =
      *sign_intermediate(fake_root.cert, fake_root.key, fake_key, "Remembered R1", kNow, 24h * 365);
  auto forged = leaf_of(fake, fake_key, "victim.example");
  // Presented with the real intermediate (whose path is remembered): the signature is not its.
  EXPECT_EQ(classify(std::vector<certificate>{forged, inter}, anchors), issuer_class::foreign);
  // With its own intermediate: that path was never verified, and does not verify.
  EXPECT_EQ(classify(std::vector<certificate>{forged, fake}, anchors), issuer_class::foreign);
  // The same chains without an anchors id (nothing remembered) classify alike.
  trust_anchors plain{{root.cert}, {}, {}};
  EXPECT_EQ(
      classify(std::vector<certificate>{leaf_of(inter, inter_key, "x.example"), inter}, plain),
      issuer_class::production);
  EXPECT_EQ(classify(std::vector<certificate>{forged, inter}, plain), issuer_class::foreign);
}

TEST(Classification, IssuerNamesDoNotMatter) {
  // A CA named like Let's Encrypt's staging intermediate but not chaining to a staging root is
  // foreign; a production root with an unfamiliar name is still production.
  test_ca fake("(STAGING) Artificial Apricot R3"), prod("R99 that did not exist yesterday");
  trust_anchors anchors{{prod.cert}, {}, {}};
  EXPECT_EQ(classify(fake.issue("a.example"), anchors), issuer_class::foreign);
  EXPECT_EQ(classify(prod.issue("a.example"), anchors), issuer_class::production);
}

TEST(Classification, ExpiryDoesNotChangeTheIssuer) {
  test_ca prod("Test Production Root");
  trust_anchors anchors{{prod.cert}, {}, {}};
  auto old = prod.issue("a.example", kNow - 24h * 200);  // expired 110 days ago
  EXPECT_EQ(classify(old, anchors), issuer_class::production);
}

TEST(Classification, ShippedStagingRoots) {
  auto roots = parse_pem_bundle(staging_roots_pem());
  ASSERT_TRUE(roots) << roots.error().message();
  ASSERT_EQ(roots->size(), 4u);
  std::vector<std::string> fps;
  for (const auto& r : *roots) {
    EXPECT_NE(r.subject().find("(STAGING)"), std::string::npos) << r.subject();
    EXPECT_TRUE(r.is_self_issued());
    fps.push_back(r.fingerprint_sha256());
  }
  // Pretend Pear X1 and Bogus Broccoli X2, as pinned elsewhere from letsencrypt.org.
  EXPECT_EQ(fps[0], "e70570a989f8565aabdf7cae27abd1621872d6a3f811e3fef27e3dba02912198");
  EXPECT_EQ(fps[1], "9b2a339fe6a3e85585c4cd75536cb8c1cf7cd603b9a64bec2521858ae48da85d");
}

TEST(Classification, SystemStoreGivesTheIsrgRoots) {
  auto anchors = load_trust_anchors("/etc/ssl/certs/ca-certificates.crt", {});
  ASSERT_TRUE(anchors) << anchors.error().message();
  ASSERT_GE(anchors->production.size(), 2u) << "ISRG Root X1 and X2";
  for (const auto& c : anchors->production) {
    EXPECT_NE(c.subject().find("ISRG Root"), std::string::npos) << c.subject();
  }
  EXPECT_EQ(anchors->staging.size(), 4u);
  EXPECT_TRUE(anchors->custom.empty());
  EXPECT_FALSE(load_trust_anchors("/nonexistent/bundle.pem", {}));
}

}  // namespace
}  // namespace certherd::pki
