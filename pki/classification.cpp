#include "pki/classification.hpp"

#include <fstream>
#include <ostream>
#include <sstream>

namespace certherd::pki {

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
  return out;
}

issuer_class classify(std::span<const certificate> chain, const trust_anchors& anchors) {
  if (chain.empty()) return issuer_class::foreign;
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

}  // namespace certherd::pki
