// Keys, CSRs, certificates, chains and verification, on real OpenSSL objects.
#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "pki/ossl.hpp"
#include "pki/utc_time.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace certherd::pki {
namespace {

using namespace std::chrono_literals;
const sys_seconds kNow{std::chrono::seconds(1'800'000'000)};

class KeyTypes : public ::testing::TestWithParam<key_type> {};

TEST_P(KeyTypes, GenerateRoundTripSign) {
  auto key = private_key::generate(GetParam());
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->type(), GetParam());
  auto again = private_key::from_pem(key->to_pem());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->type(), GetParam());
  EXPECT_EQ(again->public_der(), key->public_der());
  auto sig = key->sign("message");
  ASSERT_TRUE(sig);
  EXPECT_FALSE(sig->empty());
  auto n = key->numbers();
  if (key->is_ec()) {
    EXPECT_EQ(n.x.size(), GetParam() == key_type::ec256 ? 32u : 48u);
    EXPECT_EQ(n.y.size(), n.x.size());
  } else {
    EXPECT_EQ(n.e, std::string("\x01\x00\x01", 3));
    EXPECT_GE(n.n.size(), 256u);
  }
}

TEST_P(KeyTypes, CsrCarriesNamesAndVerifies) {
  auto key = *private_key::generate(GetParam());
  auto der = make_csr_der(key, {"a.example.com", "b.example.com"});
  ASSERT_TRUE(der);
  auto p = reinterpret_cast<const unsigned char*>(der->data());
  ossl::x509_req_ptr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der->size())));
  ASSERT_TRUE(req);
  EXPECT_EQ(X509_REQ_verify(req.get(), key.native()), 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  ASSERT_NE(exts, nullptr);
  ossl::bio_ptr bio(BIO_new(BIO_s_mem()));
  X509V3_EXT_print(bio.get(), sk_X509_EXTENSION_value(exts, 0), 0, 0);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  EXPECT_EQ(ossl::bio_contents(bio.get()), "DNS:a.example.com, DNS:b.example.com");
}

INSTANTIATE_TEST_SUITE_P(All, KeyTypes,
                         ::testing::Values(key_type::ec256, key_type::ec384, key_type::rsa2048,
                                           key_type::rsa3072, key_type::rsa4096));

TEST(UtcTime, FormatsEveryYearACertificateCanName) {
  using std::chrono::sys_seconds;
  EXPECT_EQ(to_rfc3339(sys_seconds{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(to_rfc3339(sys_seconds{std::chrono::seconds(1796185209)}), "2026-12-02T04:20:09Z");
  // Past 2262, where a conversion to nanoseconds overflows (a notAfter of 9999-12-31).
  EXPECT_EQ(to_rfc3339(sys_seconds{std::chrono::seconds(253402300799)}), "9999-12-31T23:59:59Z");
  EXPECT_EQ(to_rfc3339(sys_seconds{std::chrono::seconds(-1)}), "1969-12-31T23:59:59Z");
  EXPECT_EQ(to_rfc3339(sys_seconds::max()), "out-of-range");
  EXPECT_EQ(to_rfc3339(sys_seconds{std::chrono::seconds(253402300800)}), "out-of-range")
      << "year 10000 has no RFC 3339 form";
  EXPECT_EQ(to_rfc3339(sys_seconds{std::chrono::seconds(-62167219201)}), "out-of-range")
      << "nor has year -1";
}

TEST(Key, ParsesTypeNames) {
  EXPECT_EQ(parse_key_type("ec384"), key_type::ec384);
  EXPECT_EQ(parse_key_type("rsa4096"), key_type::rsa4096);
  EXPECT_FALSE(parse_key_type("rsa1024"));
  EXPECT_FALSE(parse_key_type("EC256"));
}

TEST(Key, RefusesJunkAndUnsupportedKeys) {
  auto junk =
      private_key::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code, errc::invalid_pem);
  ossl::evp_pkey_ptr small(EVP_RSA_gen(1024));
  ossl::bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), small.get(), nullptr, nullptr, 0, nullptr, nullptr);
  auto r = private_key::from_pem(ossl::bio_contents(bio.get()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unsupported_key);
}

TEST(Certificate, SelfSignedFacts) {
  auto key = *private_key::generate(key_type::ec256);
  auto cert = make_self_signed(key, {"a.example.com", "b.example.com"}, kNow, 24h);
  ASSERT_TRUE(cert) << cert.error().message();
  EXPECT_EQ(cert->subject_alt_names(),
            (std::vector<std::string>{"a.example.com", "b.example.com"}));
  EXPECT_EQ(cert->not_after(), kNow + 24h);
  EXPECT_EQ(cert->not_before(), kNow - 1h);
  EXPECT_TRUE(cert->is_self_issued());
  EXPECT_TRUE(cert->matches(key));
  EXPECT_FALSE(cert->matches(*private_key::generate(key_type::ec256)));
  EXPECT_EQ(cert->issuer_common_name(), "a.example.com");
  EXPECT_EQ(cert->fingerprint_sha256().size(), 64u);
  EXPECT_FALSE(cert->serial_hex().empty());
  auto round = certificate::from_der(cert->der());
  ASSERT_TRUE(round);
  EXPECT_EQ(round->fingerprint_sha256(), cert->fingerprint_sha256());
}

TEST(Certificate, CheckIssued) {
  auto key = *private_key::generate(key_type::ec256);
  auto cert = *make_self_signed(key, {"a.example.com", "b.example.com"}, kNow, 24h);
  EXPECT_TRUE(check_issued(cert, key, {"b.example.com", "a.example.com"}));
  auto other = check_issued(cert, *private_key::generate(key_type::ec256), {"a.example.com"});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, errc::key_mismatch);
  auto missing = check_issued(cert, key, {"a.example.com", "c.example.com"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("c.example.com"), std::string::npos);
}

TEST(Certificate, PemChainParsing) {
  auto k = *private_key::generate(key_type::ec256);
  auto a = *make_self_signed(k, {"a.example.com"}, kNow, 24h);
  auto b = *make_self_signed(k, {"b.example.com"}, kNow, 24h);
  auto chain = parse_pem_chain(a.pem() + "\n" + b.pem());
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1].fingerprint_sha256(), b.fingerprint_sha256());
  EXPECT_EQ(to_pem(*chain), a.pem() + b.pem());

  EXPECT_EQ(parse_pem_chain("").error().code, errc::invalid_pem);
  EXPECT_EQ(parse_pem_chain(a.pem() + "junk" + b.pem()).error().code, errc::invalid_pem);
  auto truncated = a.pem().substr(0, a.pem().size() - 30);
  EXPECT_EQ(parse_pem_chain(truncated).error().code, errc::invalid_pem);
  std::string corrupt = a.pem();
  corrupt[100] = corrupt[100] == 'A' ? 'B' : 'A';
  corrupt[101] = '!';
  EXPECT_FALSE(parse_pem_chain(corrupt));
}

TEST(Certificate, LeafFingerprintWithoutParsing) {
  auto k = *private_key::generate(key_type::ec256);
  auto a = *make_self_signed(k, {"a.example.com"}, kNow, 24h);
  auto b = *make_self_signed(k, {"b.example.com"}, kNow, 24h);
  EXPECT_EQ(pem_leaf_fingerprint(a.pem()), a.fingerprint_sha256());
  EXPECT_EQ(pem_leaf_fingerprint(a.pem() + "\n" + b.pem()), a.fingerprint_sha256());
  EXPECT_EQ(pem_leaf_fingerprint(b.pem() + a.pem()), b.fingerprint_sha256());

  // Whatever parse_pem_chain refuses for its framing, this refuses too.
  EXPECT_FALSE(pem_leaf_fingerprint(""));
  EXPECT_FALSE(pem_leaf_fingerprint("  \n"));
  EXPECT_FALSE(pem_leaf_fingerprint(a.pem() + "junk" + b.pem()));
  EXPECT_FALSE(pem_leaf_fingerprint(a.pem().substr(0, a.pem().size() - 30)));
  // A block cut short inside its base64 still ends in END: the DER length gives it away.
  std::string pem = a.pem();
  auto body = pem.find('\n') + 1;
  std::string shorter = pem.substr(0, body) + pem.substr(body + 65);
  EXPECT_FALSE(parse_pem_chain(shorter));
  EXPECT_FALSE(pem_leaf_fingerprint(shorter));
  std::string corrupt = pem;
  corrupt[100] = '!';
  EXPECT_FALSE(pem_leaf_fingerprint(corrupt));
  // The second block is checked as well, though only the first is hashed.
  EXPECT_FALSE(pem_leaf_fingerprint(a.pem() + shorter));
}

TEST(Certificate, IssuersAreParsedOnceAndStayDistinct) {
  auto k = *private_key::generate(key_type::ec256);
  auto leaf = *make_self_signed(k, {"leaf.example.com"}, kNow, 24h);
  auto one = *make_self_signed(k, {"one.example.com"}, kNow, 24h);
  auto two = *make_self_signed(k, {"two.example.com"}, kNow, 24h);
  for (int round = 0; round < 3; ++round) {
    auto first = parse_pem_chain(leaf.pem() + one.pem());
    auto second = parse_pem_chain(leaf.pem() + two.pem());
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    EXPECT_EQ((*first)[1].fingerprint_sha256(), one.fingerprint_sha256());
    EXPECT_EQ((*second)[1].fingerprint_sha256(), two.fingerprint_sha256());
    EXPECT_EQ((*second)[0].fingerprint_sha256(), leaf.fingerprint_sha256());
  }
  // A leaf is never taken from the issuers already seen: it is parsed where it stands.
  auto swapped = parse_pem_chain(one.pem() + leaf.pem());
  ASSERT_TRUE(swapped);
  EXPECT_EQ(swapped->front().subject_alt_names(), std::vector<std::string>{"one.example.com"});
}

TEST(Certificate, VerifiesAgainstGivenAnchorsOnly) {
  auto k = *private_key::generate(key_type::ec256);
  auto leaf = *make_self_signed(k, {"a.example.com"}, kNow, 24h);
  auto other = *make_self_signed(*private_key::generate(key_type::ec256), {"x.example"}, kNow, 24h);
  // A self-signed leaf is trusted when it is its own anchor, at a time inside its validity.
  EXPECT_TRUE(verify_chain(leaf, {}, std::span(&leaf, 1), kNow));
  auto wrong = verify_chain(leaf, {}, std::span(&other, 1), kNow);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, errc::verification_failed);
  auto expired = verify_chain(leaf, {}, std::span(&leaf, 1), kNow + 48h);
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().detail.find("expired"), std::string::npos) << expired.error().detail;
}

}  // namespace
}  // namespace certherd::pki
