// The reconcile model's data: what is wanted for one certificate (cert_spec) and what is observed
// (local_copy in the store, target_copy per place that serves it). Plain values, no I/O: sources
// fill cert_spec, the store and the targets fill the observations, plan() compares them.
#pragma once

#include "pki/classification.hpp"
#include "pki/key.hpp"
#include "reconcilers/failure.hpp"
#include "stores/renewal_info.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

using sys_seconds = std::chrono::sys_seconds;

/// \brief The desired certificate.
struct cert_spec {
  std::string name;                ///< the certificate's name: the host, with one per host
  std::vector<std::string> hosts;  ///< sorted, unique
  std::string directory;           ///< ACME directory URL
  /// How certificates of `directory` classify (production, staging, custom); nullopt when it
  /// cannot be known (a custom CA whose roots were not configured): then the recorded
  /// directory alone decides.
  std::optional<pki::issuer_class> expected_class;
  pki::key_type key_type = pki::key_type::ec256;
  std::vector<std::string> targets;  ///< names of the targets that must serve it
  /// Who asks for it, for people: "DOMAINS", "service web (1s5)". Not part of the plan.
  std::vector<std::string> sources;
  /// The ACME profile to order with (ACME_PROFILE); empty: the CA's default.
  std::string profile = {};
};

/// \brief The store's record for a certificate name: the certificate (when one is held) and the
/// failure state, which outlives failed attempts and restarts.
struct local_copy {
  bool present = false;
  std::vector<std::string> hosts;  ///< SANs of the held certificate, sorted
  std::string directory;           ///< the directory that issued it
  pki::issuer_class issuer = pki::issuer_class::foreign;
  pki::key_type key_type = pki::key_type::ec256;
  /// The profile it was ordered with ("" the CA's default); nullopt for a certificate recorded
  /// before profiles were (never a reason to replace it).
  std::optional<std::string> profile;
  sys_seconds not_before{};
  sys_seconds not_after{};
  std::string fingerprint;       ///< SHA-256 of the leaf, hex
  std::string fingerprint_sha1;  ///< SHA-1 of the leaf, hex: what HAProxy reports
  std::string chain_sha256;      ///< SHA-256 of the chain's PEM, hex: which chain this is
  int failures = 0;              ///< consecutive failed issuances
  sys_seconds next_retry{};
  std::string last_error;
  std::optional<failure_kind> last_error_kind;  ///< what kind of failure last_error is
  std::string reissue;  ///< why the held certificate must be replaced anyway (revoked, forced)
  /// Fingerprints (SHA-256 and SHA-1, hex) of every certificate certherd made under this name,
  /// the held one included: a target serving one of them serves certherd's own certificate.
  std::vector<std::string> own;
  /// What the CA's renewal information (RFC 9773) says of the held certificate; empty (no
  /// `leaf`) when never asked, or when what is kept is about another certificate.
  stores::renewal_info ari;

  /// \brief Whether `fingerprint` (SHA-256 or SHA-1, hex) is one certherd made under this name.
  bool made(const std::string& fingerprint) const;
};

/// \brief What one target serves under the certificate's name.
struct target_copy {
  std::string target;
  bool present = false;
  std::string fingerprint;       ///< SHA-256 of the leaf, when the target can tell
  std::string fingerprint_sha1;  ///< SHA-1 of the leaf, when that is all the target reports
  sys_seconds not_after{};
  pki::issuer_class issuer = pki::issuer_class::foreign;
  /// The place is certherd's alone (its own output files): whatever it holds was put there for
  /// certherd, so nothing in it is another party's certificate to protect.
  bool exclusive = false;
  /// The target knows the place holds what someone else put there (a file certherd did not
  /// write): replaced only with ADOPT_FOREIGN, whatever its classification.
  bool foreign_owner = false;
  /// Never replaced, even with ADOPT_FOREIGN: something certherd does not manage depends on it
  /// (a certificate HAProxy's frontend binds by itself).
  bool pinned = false;
  /// The target may serve a self-signed placeholder until the real certificate is issued (files
  /// and HAProxy; not Rancher, whose store load balancers and people read).
  bool takes_placeholders = false;
  /// Why, for people, when foreign_owner or pinned is set.
  std::string owner_note;
};

}  // namespace certherd::reconcilers
