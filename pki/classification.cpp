#include "pki/classification.hpp"

#include "pki/encoding.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <fstream>
#include <ostream>
#include <sstream>

namespace certherd::pki {

namespace {
std::atomic<std::uint64_t> next_anchors_id{1};  // trust_anchors::id of each load
}  // namespace

std::string_view to_string(issuer_class c) noexcept {
  switch (c) {
    case issuer_class::production:
      return "production";
    case issuer_class::staging:
      return "staging";
    case issuer_class::custom:
      return "custom";
    case issuer_class::self_signed:
      return "self-signed";
    case issuer_class::foreign:
      return "foreign";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, issuer_class c) {
  return os << to_string(c);
}

result<std::vector<certificate>> read_pem_bundle(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return error{errc::invalid_pem, "cannot read " + file.string()};
  std::stringstream ss;
  ss << in.rdbuf();
  auto certs = parse_pem_bundle(ss.str());
  if (!certs) return error{certs.error().code, file.string() + ": " + certs.error().detail};
  return certs;
}

result<std::vector<certificate>> parse_pem_bundle(std::string_view text) {
  // Keep only the certificate blocks: bundles carry comments and other PEM types between them.
  std::string blocks;
  static constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view end = "-----END CERTIFICATE-----";
  for (std::size_t pos = text.find(begin); pos != std::string::npos; pos = text.find(begin, pos)) {
    std::size_t e = text.find(end, pos);
    if (e == std::string::npos) break;
    blocks.append(text.substr(pos, e + end.size() - pos)).append("\n");
    pos = e + end.size();
  }
  return parse_pem_chain(blocks);
}

result<trust_anchors> load_trust_anchors(const std::filesystem::path& system_bundle,
                                         const std::filesystem::path& custom_roots) {
  trust_anchors out;
  auto system = read_pem_bundle(system_bundle);
  if (!system) return system.error();
  for (auto& c : *system) {
    std::string subject = c.subject();
    bool isrg = subject.find("O=Internet Security Research Group") != std::string::npos ||
                subject.find("O=ISRG") != std::string::npos;
    if (isrg && subject.find("(STAGING)") == std::string::npos) out.production.push_back(c);
  }
  auto staging = parse_pem_bundle(staging_roots_pem());
  if (!staging) return staging.error();
  out.staging = std::move(*staging);
  if (!custom_roots.empty()) {
    auto custom = read_pem_bundle(custom_roots);
    if (!custom) return custom.error();
    out.custom = std::move(*custom);
  }
  out.id = next_anchors_id++;
  std::string all;
  for (auto [kind, set] : {std::pair{"production", &out.production},
                           {"staging", &out.staging},
                           {"custom", &out.custom}}) {
    for (const auto& c : *set)
      all += std::string(kind) + " " + c.fingerprint_sha256() + "\n";
  }
  out.digest = hex_encode(sha256(all));
  return out;
}

namespace {

// Issuer chains whose path to an anchor set was verified: "<anchors id>|<SHA-256 of each
// intermediate>" → what they verified to. Bounded: forgotten whole when full.
struct verified_issuers {
  std::mutex mu;
  std::unordered_map<std::string, issuer_class> by_chain;
};
constexpr std::size_t kVerifiedIssuersMax = 4096;

verified_issuers& verified() {
  static verified_issuers v;
  return v;
}

// The leaf's own link to an issuer whose path is known good: its issuer's name and key
// identifier, the issuer's key signed it, and it is fit for a TLS server (what X509_verify_cert
// checks of the leaf under X509_PURPOSE_SSL_SERVER).
bool issued_by(const certificate& leaf, const certificate& issuer) {
  if (X509_check_issued(issuer.native(), leaf.native()) != X509_V_OK) return false;
  EVP_PKEY* key = X509_get0_pubkey(issuer.native());
  bool signed_ok = key && X509_verify(leaf.native(), key) == 1;
  bool purpose_ok = signed_ok && X509_check_purpose(leaf.native(), X509_PURPOSE_SSL_SERVER, 0) == 1;
  ERR_clear_error();
  return purpose_ok;
}

issuer_class classify_whole(std::span<const certificate> chain, const trust_anchors& anchors) {
  const certificate& leaf = chain.front();
  auto rest = chain.subspan(1);
  if (!anchors.production.empty() && verify_issuance(leaf, rest, anchors.production)) {
    return issuer_class::production;
  }
  if (!anchors.staging.empty() && verify_issuance(leaf, rest, anchors.staging)) {
    return issuer_class::staging;
  }
  if (!anchors.custom.empty() && verify_issuance(leaf, rest, anchors.custom)) {
    return issuer_class::custom;
  }
  if (leaf.is_self_issued() && verify_issuance(leaf, {}, std::span(&leaf, 1))) {
    return issuer_class::self_signed;
  }
  return issuer_class::foreign;
}

}  // namespace

issuer_class classify(std::span<const certificate> chain, const trust_anchors& anchors) {
  if (chain.empty()) return issuer_class::foreign;
  std::string key;
  if (anchors.id != 0 && chain.size() >= 2) {
    key = std::to_string(anchors.id);
    for (const auto& c : chain.subspan(1)) {
      if (X509_get_ext_by_NID(c.native(), NID_name_constraints, -1) >= 0) {
        key.clear();  // the leaf's names matter to the path: verify it whole every time
        break;
      }
      key += '|';
      key += c.fingerprint_sha256();
    }
  }
  if (!key.empty()) {
    std::optional<issuer_class> known;
    {
      auto& v = verified();
      std::lock_guard lock(v.mu);
      if (auto it = v.by_chain.find(key); it != v.by_chain.end()) known = it->second;
    }
    if (known && issued_by(chain.front(), chain[1])) return *known;
  }
  auto cls = classify_whole(chain, anchors);
  if (!key.empty() && (cls == issuer_class::production || cls == issuer_class::staging ||
                       cls == issuer_class::custom)) {
    auto& v = verified();
    std::lock_guard lock(v.mu);
    if (v.by_chain.size() >= kVerifiedIssuersMax) v.by_chain.clear();
    v.by_chain[key] = cls;
  }
  return cls;
}

}  // namespace certherd::pki
