// The read-only fields Rancher 1.x (Cattle) derives from a certificate's PEM on create and
// update (design/rancher-api.md §A3: CertificateCreateValidationFilter + SslCertificateUtils), computed
// the way the JVM prints them, so the simulator standing in for Rancher shows what a real server
// would: CN, SANs, Date.toString() validity, RFC 2253 issuer, decimal serial, BouncyCastle
// algorithm name, colon-separated SHA-1 fingerprint, version and RSA key size.
#pragma once

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::sim {

struct cert_facts {
  std::optional<std::string> cn;
  std::vector<std::string> subject_alternative_names;
  std::string expires_at;  ///< "Wed Aug 30 11:00:00 UTC 2017"
  std::string issued_at;
  std::string issuer;           ///< RFC 2253
  std::string serial_number;    ///< decimal, as BigInteger.toString()
  std::string algorithm;        ///< "SHA256WITHRSA", "SHA256WITHECDSA"
  std::string fingerprint;      ///< SHA-1, "ab:cd:..."
  std::string version;          ///< "3"
  std::optional<int> key_size;  ///< RSA modulus bits; null for other keys
};

/// \brief The first `-----BEGIN CERTIFICATE-----` block of `pem` (empty when there is none):
/// Cattle parses only that one.
std::string_view first_pem_block(std::string_view pem);

/// \brief Facts of the first PEM block of `pem`, or the parser's words for why there are none.
boost::system::result<cert_facts, std::string> compute_cert_facts(std::string_view pem);

}  // namespace certherd::sim
