#include "clients/acme/ari.hpp"

#include "clients/json/parse.hpp"
#include "pki/encoding.hpp"
#include "pki/utc_time.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

namespace certherd::acme {

std::string cert_id(std::string_view key_identifier, std::string_view serial_content) {
  return pki::base64url_encode(key_identifier) + "." + pki::base64url_encode(serial_content);
}

std::optional<std::string> cert_id_of(const pki::certificate& leaf, std::string& why) {
  const ASN1_OCTET_STRING* key_id = X509_get0_authority_key_id(leaf.native());
  ERR_clear_error();  // a certificate whose extensions do not decode leaves one queued
  if (!key_id || ASN1_STRING_length(key_id) <= 0) {
    why = "the certificate has no Authority Key Identifier: renewal information cannot name it";
    return std::nullopt;
  }
  // The serial's DER content octets: its encoding without the tag and length.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf.native());
  unsigned char* der = nullptr;
  int len = i2d_ASN1_INTEGER(serial, &der);
  struct openssl_free {
    void operator()(unsigned char* p) const { OPENSSL_free(p); }
  };
  std::unique_ptr<unsigned char, openssl_free> owned(der);
  if (len < 3) {
    why = "the certificate's serial number cannot be encoded";
    return std::nullopt;
  }
  std::size_t header = 2;
  if (der[1] & 0x80) header += der[1] & 0x7f;  // long-form length
  if (static_cast<std::size_t>(len) <= header) {
    why = "the certificate's serial number cannot be encoded";
    return std::nullopt;
  }
  std::string_view id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key_id)),
                      static_cast<std::size_t>(ASN1_STRING_length(key_id)));
  std::string_view content(reinterpret_cast<const char*>(der) + header, len - header);
  return cert_id(id, content);
}

std::optional<renewal_window> parse_renewal_info(std::string_view body, std::string& why) {
  rapidjson::Document doc;
  if (auto bad = json::parse(doc, body)) {
    why = "renewalInfo is not JSON: " + *bad;
    return std::nullopt;
  }
  if (!doc.IsObject() || !doc.HasMember("suggestedWindow") || !doc["suggestedWindow"].IsObject()) {
    why = "renewalInfo has no suggestedWindow object";
    return std::nullopt;
  }
  const auto& w = doc["suggestedWindow"];
  auto time_of = [&](const char* key) -> std::optional<sys_seconds> {
    if (!w.HasMember(key) || !w[key].IsString()) return std::nullopt;
    return pki::from_rfc3339(std::string_view(w[key].GetString(), w[key].GetStringLength()));
  };
  auto start = time_of("start");
  auto end = time_of("end");
  if (!start || !end) {
    why = "renewalInfo's suggestedWindow needs RFC 3339 start and end";
    return std::nullopt;
  }
  if (*end <= *start) {
    why = "renewalInfo's suggestedWindow ends before it starts";
    return std::nullopt;
  }
  renewal_window out{*start, *end, {}};
  if (doc.HasMember("explanationURL") && doc["explanationURL"].IsString()) {
    std::string_view url(doc["explanationURL"].GetString(),
                         doc["explanationURL"].GetStringLength());
    bool printable =
        std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (printable && url.size() <= kMaxExplanationUrl &&
        (url.starts_with("https://") || url.starts_with("http://"))) {
      out.explanation_url = std::string(url);
    }
  }
  return out;
}

sys_seconds pick_in_window(const renewal_window& w, std::uint64_t random) {
  if (w.end <= w.start) return w.start;
  // Both ends are RFC 3339 times (years 0000-9999), so the span fits in 64 bits unsigned.
  auto span = static_cast<std::uint64_t>((w.end - w.start).count());
  return w.start + std::chrono::seconds(static_cast<std::int64_t>(random % span));
}

sys_seconds renewal_time(const renewal_window& now, const std::optional<renewal_window>& chosen_in,
                         std::optional<sys_seconds> kept, std::uint64_t random,
                         sys_seconds latest) {
  auto t = kept && chosen_in && *chosen_in == now ? *kept : pick_in_window(now, random);
  return std::min(t, latest);
}

std::chrono::seconds next_ari_poll(ari_answer answer,
                                   std::optional<std::chrono::seconds> retry_after,
                                   int temporary_failures) {
  switch (answer) {
    case ari_answer::window: {
      auto wait = std::clamp(retry_after.value_or(kAriLongTermRetry), kAriMinRetry, kAriMaxRetry);
      return std::min(wait, kAriMaxPollInterval);
    }
    case ari_answer::long_term:
      return kAriLongTermRetry;
    case ari_answer::temporary: {
      int doublings = std::clamp(temporary_failures - 1, 0, 16);
      return std::min<std::chrono::seconds>(kAriMinRetry * (1LL << doublings), kAriLongTermRetry);
    }
  }
  return kAriLongTermRetry;
}

}  // namespace certherd::acme
