// ACME Renewal Information without I/O (clients/acme/ari): the unique identifier against RFC
// 9773's own example (keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
// serial 0x87654321 → "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"), from bytes and from a certificate
// built here with that keyIdentifier and serial; renewalInfo bodies a CA may send, good and bad;
// the pick inside the window and its keeping; when to ask again. And RFC 3339 times, which the
// window is written in.
#include "clients/acme/ari.hpp"
#include "pki/key.hpp"
#include "pki/utc_time.hpp"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace certherd::acme {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;

const std::string kRfcKeyId{
    "\x69\x88\x5B\x6B\x87\x46\x40\x41\xE1\xB3\x7B\x84\x7B\xA0\xAE\x2C\xDE\x01\xC8\xD4", 20};
constexpr const char* kRfcCertId = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

// A certificate with the given serial and, unless empty, that Authority Key Identifier.
pki::certificate made_with(std::uint64_t serial, const std::string& key_id) {
  auto key = pki::private_key::generate(pki::key_type::ec256);
  EXPECT_TRUE(key);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ari.example.com"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_set_pubkey(x.get(), key->native());
  if (!key_id.empty()) {
    std::unique_ptr<AUTHORITY_KEYID, decltype(&AUTHORITY_KEYID_free)> akid(AUTHORITY_KEYID_new(),
                                                                           &AUTHORITY_KEYID_free);
    akid->keyid = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(akid->keyid, reinterpret_cast<const unsigned char*>(key_id.data()),
                          static_cast<int>(key_id.size()));
    X509_add1_ext_i2d(x.get(), NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT);
  }
  X509_sign(x.get(), key->native(), EVP_sha256());
  unsigned char* der = nullptr;
  int len = i2d_X509(x.get(), &der);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  auto cert = pki::certificate::from_der(bytes);
  EXPECT_TRUE(cert);
  return *cert;
}

TEST(Ari, CertIdOfTheRfcExampleFromBytes) {
  EXPECT_EQ(cert_id(kRfcKeyId, std::string("\x00\x87\x65\x43\x21", 5)), kRfcCertId);
}

TEST(Ari, CertIdOfACertificateWithTheRfcExamplesFields) {
  std::string why;
  auto id = cert_id_of(made_with(0x87654321, kRfcKeyId), why);
  ASSERT_TRUE(id) << why;
  EXPECT_EQ(*id, kRfcCertId) << "the serial's leading 0x00 (its first bit is set) is kept";
  auto small = cert_id_of(made_with(0x1234, kRfcKeyId), why);
  ASSERT_TRUE(small) << why;
  EXPECT_EQ(*small, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjQ");
}

TEST(Ari, ACertificateWithoutAnAuthorityKeyIdHasNoCertId) {
  std::string why;
  EXPECT_FALSE(cert_id_of(made_with(7, ""), why));
  EXPECT_NE(why.find("Authority Key Identifier"), std::string::npos) << why;
}

TEST(Ari, RenewalInfoBodies) {
  std::string why;
  auto w = parse_renewal_info(
      R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},)"
      R"("explanationURL":"https://acme.example.com/docs/ari"})",
      why);
  ASSERT_TRUE(w) << why;
  EXPECT_EQ(pki::to_rfc3339(w->start), "2025-01-02T04:00:00Z");
  EXPECT_EQ(pki::to_rfc3339(w->end), "2025-01-03T04:00:00Z");
  EXPECT_EQ(w->explanation_url, "https://acme.example.com/docs/ari");

  struct bad {
    const char* body;
    const char* says;
  };
  for (
      const bad& b : {
          bad{"not json", "not JSON"},
          bad{"[]", "no suggestedWindow"},
          bad{R"({"suggestedWindow":"soon"})", "no suggestedWindow"},
          bad{R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z"}})", "start and end"},
          bad{R"({"suggestedWindow":{"start":1735790400,"end":1735876800}})", "start and end"},
          bad{R"({"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}})",
              "ends before"},
          bad{R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-02T04:00:00Z"}})",
              "ends before"},
      }) {
    why.clear();
    EXPECT_FALSE(parse_renewal_info(b.body, why)) << b.body;
    EXPECT_NE(why.find(b.says), std::string::npos) << b.body << " → " << why;
  }
  // An explanation that is not a plain http(s) URL is dropped, the window kept.
  for (const char* url : {"javascript:alert(1)", "https://x/\\u001b[31m", "https://x/ y"}) {
    auto odd = parse_renewal_info(
        std::string(
            R"({"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},"explanationURL":")") +
            url + "\"}",
        why);
    ASSERT_TRUE(odd) << url;
    EXPECT_EQ(odd->explanation_url, "") << url;
  }
}

TEST(Ari, ThePickIsInsideTheWindowAndKeptWhileItStays) {
  renewal_window w{sys_days{2025y / 1 / 2} + 4h, sys_days{2025y / 1 / 3} + 4h, {}};
  for (std::uint64_t r : {0ULL, 1ULL, 86399ULL, 86400ULL, ~0ULL, 0x9e3779b97f4a7c15ULL}) {
    auto t = pick_in_window(w, r);
    EXPECT_GE(t, w.start) << r;
    EXPECT_LT(t, w.end) << r;
  }
  EXPECT_EQ(pick_in_window(w, 0), w.start);
  EXPECT_EQ(pick_in_window(w, 86399), w.end - 1s);
  const auto never = sys_days{9999y / 12 / 31};
  auto kept = renewal_time(w, w, w.start + 5h, 12345, never);
  EXPECT_EQ(kept, w.start + 5h) << "the same window again: the time chosen stays";
  renewal_window moved{sys_days{2024y / 12 / 1}, sys_days{2024y / 12 / 2}, {}};
  auto again = renewal_time(moved, w, w.start + 5h, 3600, never);
  EXPECT_EQ(again, moved.start + 1h) << "a new window: a new pick inside it";
  EXPECT_EQ(renewal_time(w, std::nullopt, std::nullopt, 7, never), w.start + 7s);
  // A window reaching past what the local rule allows does not stop the renewal.
  renewal_window far{w.start, sys_days{9999y / 1 / 1}, {}};
  EXPECT_EQ(renewal_time(far, std::nullopt, std::nullopt, ~0ULL, w.start + 30min), w.start + 30min);
  // A window that is not one (as a damaged record could hold) answers its start, no division.
  EXPECT_EQ(pick_in_window({w.end, w.start, {}}, 5), w.end);
  EXPECT_EQ(pick_in_window({w.start, w.start, {}}, 5), w.start);
}

TEST(Ari, WhenToAskAgain) {
  EXPECT_EQ(next_ari_poll(ari_answer::window, 21600s, 0), 6h);
  EXPECT_EQ(next_ari_poll(ari_answer::window, 0s, 0), 1min) << "clamped up to a minute";
  EXPECT_EQ(next_ari_poll(ari_answer::window, 10s, 0), 1min);
  EXPECT_EQ(next_ari_poll(ari_answer::window, std::chrono::seconds(86400LL * 365), 0), 12h)
      << "at least twice a day";
  EXPECT_EQ(next_ari_poll(ari_answer::window, std::nullopt, 0), 6h);
  EXPECT_EQ(next_ari_poll(ari_answer::long_term, 60s, 0), 6h);
  EXPECT_EQ(next_ari_poll(ari_answer::temporary, std::nullopt, 1), 1min);
  EXPECT_EQ(next_ari_poll(ari_answer::temporary, std::nullopt, 2), 2min);
  EXPECT_EQ(next_ari_poll(ari_answer::temporary, std::nullopt, 4), 8min);
  EXPECT_EQ(next_ari_poll(ari_answer::temporary, std::nullopt, 1000), 6h);
}

TEST(Rfc3339, ReadsWhatCasSendAndRefusesTheRest) {
  using pki::from_rfc3339;
  auto base = sys_days{2025y / 1 / 2} + 4h;
  EXPECT_EQ(from_rfc3339("2025-01-02T04:00:00Z"), base);
  EXPECT_EQ(from_rfc3339("2025-01-02t04:00:00z"), base);
  EXPECT_EQ(from_rfc3339("2025-01-02T04:00:00.999999Z"), base) << "a fraction is dropped";
  EXPECT_EQ(from_rfc3339("2025-01-02T05:30:00+01:30"), base);
  EXPECT_EQ(from_rfc3339("2025-01-01T23:00:00-05:00"), base);
  EXPECT_EQ(from_rfc3339("2016-12-31T23:59:60Z"), sys_days{2016y / 12 / 31} + 23h + 59min + 59s);
  EXPECT_EQ(from_rfc3339("2024-02-29T00:00:00Z"), sys_days{2024y / 2 / 29});
  for (const char* bad :
       {"", "2025-01-02", "2025-01-02T04:00:00", "2025-01-02 04:00:00Z", "2025-13-02T04:00:00Z",
        "2025-02-29T04:00:00Z", "2025-01-32T04:00:00Z", "2025-01-02T24:00:00Z",
        "2025-01-02T04:60:00Z", "2025-01-02T04:00:61Z", "2025-01-02T04:00:00.Z",
        "2025-01-02T04:00:00+24:00", "2025-01-02T04:00:00+0100", "2025-01-02T04:00:00Zjunk",
        "+2025-01-02T04:00:00Z", "2025-1-02T04:00:00Z", "2025-01-02T04:00:00ZZ"}) {
    EXPECT_FALSE(from_rfc3339(bad)) << bad;
  }
}

}  // namespace
}  // namespace certherd::acme
