// Fuzz target: PEM bundles and chains (what the CA sends as a certificate, what Rancher, HAProxy's
// folder or OUTPUT_DIR hold), through OpenSSL and certherd's RAII wrappers, then classification
// against fixed anchors. Properties: no crash or leak; a chain that parses prints back to PEM
// that parses to the same certificates; every accessor answers.
#include "check.hpp"
#include "pki/certificate.hpp"
#include "pki/classification.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace certherd::pki;

namespace {
const trust_anchors& anchors() {
  static const trust_anchors a = [] {
    trust_anchors t;
    if (auto staging = parse_pem_bundle(staging_roots_pem())) t.staging = *staging;
    return t;
  }();
  return a;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto chain = parse_pem_chain(text)) {
    FUZZ_CHECK(!chain->empty());
    auto again = parse_pem_chain(to_pem(*chain));
    FUZZ_CHECK(again && again->size() == chain->size());
    for (std::size_t i = 0; i < chain->size(); ++i) {
      const auto& c = (*chain)[i];
      FUZZ_CHECK((*again)[i].fingerprint_sha256() == c.fingerprint_sha256());
      FUZZ_CHECK(c.fingerprint_sha256().size() == 64 && c.fingerprint_sha1().size() == 40);
      (void)c.subject_alt_names();
      (void)c.subject();
      (void)c.issuer();
      (void)c.issuer_common_name();
      (void)c.not_before();
      (void)c.not_after();
      (void)c.serial_hex();
      (void)c.is_self_issued();
    }
    (void)classify(*chain, anchors());
  }
  if (auto bundle = parse_pem_bundle(text)) {
    for (const auto& c : *bundle)
      (void)c.fingerprint_sha256();
  }
  return 0;
}
