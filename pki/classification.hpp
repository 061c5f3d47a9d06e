// Who issued a certificate, decided by verifying its chain (validity periods aside) against the
// trust anchors of each kind of CA — never by reading issuer names. The original project matched
// issuer text ("Fake", "X3"/"X4") and, when Let's Encrypt renamed its intermediates, took every
// production certificate for self-signed and reissued on every loop until rate-limited.
#pragma once

#include "pki/certificate.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <string_view>
#include <vector>

namespace certherd::pki {

enum class issuer_class {
  production,   ///< chains to a Let's Encrypt production root (from the system trust store)
  staging,      ///< chains to a Let's Encrypt staging root (shipped as data)
  custom,       ///< chains to a root configured for a custom directory (e.g. Pebble's)
  self_signed,  ///< a lone certificate that signed itself (placeholders, appliances)
  foreign,      ///< anything else: another CA, or a chain that verifies nowhere
};

std::string_view to_string(issuer_class c) noexcept;
std::ostream& operator<<(std::ostream& os, issuer_class c);

struct trust_anchors {
  std::vector<certificate> production;
  std::vector<certificate> staging;
  std::vector<certificate> custom;
  /// Set by load_trust_anchors, unique per load: classify() remembers, per id, which issuer
  /// chains it verified (0: nothing is remembered).
  std::uint64_t id = 0;
  /// SHA-256 (hex) over every anchor, by kind: equal digests mean anchors that classify alike,
  /// in this run or another (what a memo of classifications is keyed by).
  std::string digest = {};
};

/// \brief The ISRG roots of a system trust bundle (PEM file with comments allowed), the staging
/// roots built into certherd (pki/data/letsencrypt-staging-roots.pem), and the optional custom
/// roots file (empty path: none).
result<trust_anchors> load_trust_anchors(const std::filesystem::path& system_bundle,
                                         const std::filesystem::path& custom_roots);

/// \brief Reads every certificate of a PEM file, skipping text between blocks (comments).
result<std::vector<certificate>> read_pem_bundle(const std::filesystem::path& file);

/// \brief Every certificate block of PEM text, skipping text between blocks.
result<std::vector<certificate>> parse_pem_bundle(std::string_view text);

/// \brief The Let's Encrypt staging roots compiled into certherd, as PEM.
std::string_view staging_roots_pem() noexcept;

/// \brief Classifies `chain` (leaf first). The path from the leaf's issuer to a root is verified
/// once per issuer chain and anchor set: for the next leaf of that issuer only its own signature,
/// its issuer's name and key identifier and its purpose are checked (a start-up over 10,000
/// certificates of one CA verifies one path, not 10,000). Chains whose intermediates carry name
/// constraints are always verified whole. What it decides depends only on the chain's bytes and
/// the anchors (no clock): reconcilers/chain_facts.cpp remembers it across restarts, and its
/// format version must change with any change here that decides differently.
issuer_class classify(std::span<const certificate> chain, const trust_anchors& anchors);

}  // namespace certherd::pki
