// X.509 certificates: parsing of PEM chains and DER, the facts the reconciler needs (SANs,
// validity, serial, SHA-256 fingerprint, issuer), CSRs for ACME finalize, self-signed
// placeholders, and chain verification against explicit trust anchors.
#pragma once

#include "pki/error.hpp"
#include "pki/key.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct x509_st;

namespace certherd::pki {

using sys_seconds = std::chrono::sys_seconds;

class certificate {
 public:
  static result<certificate> from_der(std::string_view der);

  std::string der() const;
  std::string pem() const;
  /// \brief DNS names and IP addresses of the subjectAltName extension, in certificate order.
  std::vector<std::string> subject_alt_names() const;
  std::string subject() const;  ///< RFC 2253 one-line form
  std::string issuer() const;   ///< RFC 2253 one-line form
  std::string issuer_common_name() const;
  sys_seconds not_before() const;
  sys_seconds not_after() const;
  /// \brief Serial number as lower-case hex of its big-endian bytes.
  std::string serial_hex() const;
  /// \brief SHA-256 over the DER, lower-case hex without separators.
  std::string fingerprint_sha256() const;
  /// \brief SHA-1 over the DER, lower-case hex: only to match what HAProxy reports.
  std::string fingerprint_sha1() const;
  bool is_self_issued() const;
  /// \brief True when the certificate's public key is the public half of `key`.
  bool matches(const private_key& key) const;

  x509_st* native() const noexcept { return x509_.get(); }

 private:
  explicit certificate(std::shared_ptr<x509_st> x) : x509_(std::move(x)) {}
  std::shared_ptr<x509_st> x509_;
  friend result<std::vector<certificate>> parse_pem_chain(std::string_view pem);
  friend struct certificate_builder;
};

/// \brief Every certificate of a PEM bundle, in order. Fails on an empty bundle, on a block that
/// does not parse, and on anything but whitespace between blocks.
result<std::vector<certificate>> parse_pem_chain(std::string_view pem);

/// \brief The SHA-256 (hex) of the first certificate of a PEM chain, without parsing it: every
/// block must be base64 of one whole DER SEQUENCE, and nothing but white space between blocks.
/// What a target that only compares fingerprints needs (OpenSSL 3 parses a certificate in ~0.1
/// ms, mostly decoding its public key).
std::optional<std::string> pem_leaf_fingerprint(std::string_view pem);

/// \brief Checks what a CA returned for an order: the leaf is for `key` and names every host.
result<void> check_issued(const certificate& leaf, const private_key& key,
                          const std::vector<std::string>& hosts);

/// \brief Concatenated PEM of the given certificates.
std::string to_pem(std::span<const certificate> chain);

/// \brief A DER PKCS#10 request for `names` (first name as CN when it fits), signed by `key`.
result<std::string> make_csr_der(const private_key& key, const std::vector<std::string>& names);

/// \brief A self-signed certificate for `names`, valid from `now` - 1 h for `validity`.
result<certificate> make_self_signed(const private_key& key, const std::vector<std::string>& names,
                                     sys_seconds now, std::chrono::seconds validity);

/// \brief A self-signed CA certificate (basicConstraints CA:TRUE) named `common_name`.
result<certificate> make_ca_certificate(const private_key& key, const std::string& common_name,
                                        sys_seconds now, std::chrono::seconds validity);

/// \brief An intermediate CA certificate for `subject_key`, signed by `issuer`/`issuer_key`.
result<certificate> sign_intermediate(const certificate& issuer, const private_key& issuer_key,
                                      const private_key& subject_key,
                                      const std::string& common_name, sys_seconds now,
                                      std::chrono::seconds validity);

/// \brief A TLS server certificate for `names` and `subject_key`, signed by `issuer`/`issuer_key`.
result<certificate> sign_certificate(const certificate& issuer, const private_key& issuer_key,
                                     const private_key& subject_key,
                                     const std::vector<std::string>& names, sys_seconds now,
                                     std::chrono::seconds validity);

/// \brief Verifies `leaf` up to one of `anchors` through `intermediates` for TLS server use, at
/// `at` (the current time when unset). Only the anchors are trusted, never the system store.
result<void> verify_chain(const certificate& leaf, std::span<const certificate> intermediates,
                          std::span<const certificate> anchors,
                          std::optional<sys_seconds> at = std::nullopt);

/// \brief As verify_chain, but validity periods are not checked: who issued a certificate does
/// not change when it expires.
result<void> verify_issuance(const certificate& leaf, std::span<const certificate> intermediates,
                             std::span<const certificate> anchors);

}  // namespace certherd::pki
