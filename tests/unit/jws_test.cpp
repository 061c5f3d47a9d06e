// JWS against known vectors (RFC 7638 thumbprint, fixed-size ECDSA encoding) and by verifying
// what we sign with OpenSSL, for every key type; EAB checked as HMAC over the signing input.
#include "clients/acme/jws.hpp"
#include "pki/encoding.hpp"
#include "pki/ossl.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace certherd::acme {
namespace {

using pki::base64url_decode;

struct jws_parts {
  rapidjson::Document header;
  std::string protected_b64, payload_b64, payload, signature;
};

jws_parts split(const std::string& jws) {
  rapidjson::Document doc;
  doc.Parse(jws.c_str());
  EXPECT_TRUE(doc.IsObject()) << jws;
  jws_parts p;
  p.protected_b64 = doc["protected"].GetString();
  p.payload_b64 = doc["payload"].GetString();
  p.payload = *base64url_decode(p.payload_b64);
  p.signature = *base64url_decode(doc["signature"].GetString());
  p.header.Parse(base64url_decode(p.protected_b64)->c_str());
  return p;
}

bool verify(const pki::private_key& key, const jws_parts& p) {
  std::string sig = p.signature;
  if (key.is_ec()) {  // JOSE r||s back to DER for OpenSSL
    std::size_t half = sig.size() / 2;
    pki::ossl::ecdsa_sig_ptr es(ECDSA_SIG_new());
    auto bytes = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG_set0(es.get(), BN_bin2bn(bytes, static_cast<int>(half), nullptr),
                   BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &der);
    sig.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
  }
  pki::ossl::evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key.type() == pki::key_type::ec384 ? EVP_sha384() : EVP_sha256();
  EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.native());
  std::string input = p.protected_b64 + "." + p.payload_b64;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

TEST(Jwk, Rfc7638ThumbprintVector) {
  pki::public_numbers n;
  n.n = *base64url_decode(
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKR"
      "XjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
      "FDW2QvzqY368QQMicA"
      "taSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
      "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XP"
      "ksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw");
  n.e = *base64url_decode("AQAB");
  std::string jwk = jwk_json(n, pki::key_type::rsa2048);
  EXPECT_EQ(jwk.substr(0, 26), R"({"e":"AQAB","kty":"RSA","n)");
  EXPECT_EQ(pki::base64url_encode(pki::sha256(jwk)), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, EcMembersInLexicalOrderAndPadded) {
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  rapidjson::Document d;
  std::string jwk = jwk_json(key);
  d.Parse(jwk.c_str());
  EXPECT_EQ(jwk.find(R"({"crv":"P-256","kty":"EC","x":")"), 0u) << jwk;
  EXPECT_EQ(base64url_decode(d["x"].GetString())->size(), 32u);
  EXPECT_EQ(base64url_decode(d["y"].GetString())->size(), 32u);
  EXPECT_EQ(key_authorization("tok", key), "tok." + jwk_thumbprint(key));
}

TEST(Jws, EcdsaDerToFixedSize) {
  pki::ossl::ecdsa_sig_ptr sig(ECDSA_SIG_new());
  ECDSA_SIG_set0(sig.get(), BN_new(), BN_new());
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  BN_set_word(const_cast<BIGNUM*>(r), 1);
  BN_set_word(const_cast<BIGNUM*>(s), 0x0203);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  std::string d(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  auto raw = ecdsa_der_to_raw(d, 32);
  ASSERT_TRUE(raw);
  std::string expected(64, '\0');
  expected[31] = 1;
  expected[62] = 2;
  expected[63] = 3;
  EXPECT_EQ(*raw, expected);
  EXPECT_FALSE(ecdsa_der_to_raw("not der", 32));
}

class JwsKeys : public ::testing::TestWithParam<pki::key_type> {};

TEST_P(JwsKeys, SignsWithKidOrJwkAndVerifies) {
  auto key = *pki::private_key::generate(GetParam());
  auto with_kid = sign_jws({&key, "https://ca/acct/1"}, "https://ca/new-order", "nonce-1", "{}");
  ASSERT_TRUE(with_kid);
  auto p = split(*with_kid);
  EXPECT_EQ(std::string(p.header["alg"].GetString()), std::string(jws_algorithm(key)));
  EXPECT_EQ(std::string(p.header["kid"].GetString()), "https://ca/acct/1");
  EXPECT_FALSE(p.header.HasMember("jwk"));
  EXPECT_EQ(std::string(p.header["nonce"].GetString()), "nonce-1");
  EXPECT_EQ(std::string(p.header["url"].GetString()), "https://ca/new-order");
  EXPECT_EQ(p.payload, "{}");
  if (key.is_ec()) {
    EXPECT_EQ(p.signature.size(), GetParam() == pki::key_type::ec256 ? 64u : 96u);
  }
  EXPECT_TRUE(verify(key, p));

  auto with_jwk = sign_jws({&key, ""}, "https://ca/new-acct", "n2", "");
  ASSERT_TRUE(with_jwk);
  auto q = split(*with_jwk);
  EXPECT_TRUE(q.header.HasMember("jwk"));
  EXPECT_FALSE(q.header.HasMember("kid"));
  EXPECT_EQ(q.payload_b64, "") << "POST-as-GET has an empty payload";
  EXPECT_TRUE(verify(key, q));

  // Tampering breaks the signature: the check above can fail.
  q.payload_b64 = "e30";
  EXPECT_FALSE(verify(key, q));
}

INSTANTIATE_TEST_SUITE_P(All, JwsKeys,
                         ::testing::Values(pki::key_type::ec256, pki::key_type::ec384,
                                           pki::key_type::rsa2048));

TEST(Jws, KeyChangeInnerHasNoNonce) {
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto inner = sign_jws({&key, ""}, "https://ca/key-change", "", R"({"account":"a"})");
  ASSERT_TRUE(inner);
  auto p = split(*inner);
  EXPECT_FALSE(p.header.HasMember("nonce"));
  EXPECT_TRUE(p.header.HasMember("jwk"));
}

TEST(Jws, ExternalAccountBinding) {
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  std::string mac_key = "0123456789abcdef0123456789abcdef";
  auto eab =
      external_account_binding(key, "kid-1", pki::base64url_encode(mac_key), "https://ca/new-acct");
  ASSERT_TRUE(eab);
  auto p = split(*eab);
  EXPECT_EQ(std::string(p.header["alg"].GetString()), "HS256");
  EXPECT_EQ(std::string(p.header["kid"].GetString()), "kid-1");
  EXPECT_EQ(std::string(p.header["url"].GetString()), "https://ca/new-acct");
  EXPECT_FALSE(p.header.HasMember("nonce"));
  EXPECT_EQ(p.payload, jwk_json(key));
  EXPECT_EQ(p.signature, pki::hmac_sha256(mac_key, p.protected_b64 + "." + p.payload_b64));
  EXPECT_FALSE(external_account_binding(key, "kid-1", "not base64!", "https://ca/new-acct"));
}

}  // namespace
}  // namespace certherd::acme
