// Derived certificate fields of the Rancher 1.x simulator (design/rancher-api.md §A3).
#include "tests/sim/cert_facts.hpp"

#include "pki/certificate.hpp"
#include "pki/ossl.hpp"
#include "tests/sim/wire.hpp"

#include <openssl/objects.h>

#include <cctype>

namespace certherd::sim {

namespace {

// BouncyCastle's getSigAlgName(): "<DIGEST>WITH<KEY>", upper-case, e.g. SHA256WITHECDSA.
std::string algorithm_name(X509* x) {
  int sig = X509_get_signature_nid(x);
  int md = NID_undef, pk = NID_undef;
  std::string out;
  if (OBJ_find_sigid_algs(sig, &md, &pk) && md != NID_undef) {
    std::string key = pk == NID_rsaEncryption          ? "RSA"
                      : pk == NID_X9_62_id_ecPublicKey ? "ECDSA"
                      : pk == NID_dsa                  ? "DSA"
                                                       : OBJ_nid2sn(pk);
    out = std::string(OBJ_nid2sn(md)) + "WITH" + key;
  } else {
    out = OBJ_nid2sn(sig);  // Ed25519, RSASSA-PSS
  }
  for (char& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::erase(out, '-');
  return out;
}

std::string decimal_serial(X509* x) {
  pki::ossl::bn_ptr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
  if (!bn) return "0";
  char* text = BN_bn2dec(bn.get());
  std::string out = text ? text : "0";
  OPENSSL_free(text);
  return out;
}

std::optional<std::string> common_name(X509* x) {
  X509_NAME* name = X509_get_subject_name(x);
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return std::nullopt;
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string with_colons(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

}  // namespace

std::string_view first_pem_block(std::string_view pem) {
  constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view end = "-----END CERTIFICATE-----";
  auto b = pem.find(begin);
  if (b == std::string_view::npos) return {};
  auto e = pem.find(end, b);
  if (e == std::string_view::npos) return {};
  return pem.substr(b, e + end.size() - b);
}

boost::system::result<cert_facts, std::string> compute_cert_facts(std::string_view pem) {
  std::string_view block = first_pem_block(pem);
  if (block.empty()) {
    return boost::system::result<cert_facts, std::string>(boost::system::in_place_error,
                                                          "no PEM certificate block found");
  }
  auto chain = pki::parse_pem_chain(block);
  if (!chain) {
    return boost::system::result<cert_facts, std::string>(boost::system::in_place_error,
                                                          chain.error().message());
  }
  const pki::certificate& c = chain->front();
  X509* x = c.native();
  cert_facts f;
  f.cn = common_name(x);
  f.subject_alternative_names = c.subject_alt_names();
  f.expires_at = java_date(c.not_after());
  f.issued_at = java_date(c.not_before());
  f.issuer = c.issuer();
  f.serial_number = decimal_serial(x);
  f.algorithm = algorithm_name(x);
  f.fingerprint = with_colons(c.fingerprint_sha1());
  f.version = std::to_string(X509_get_version(x) + 1);
  EVP_PKEY* pub = X509_get0_pubkey(x);
  if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) f.key_size = EVP_PKEY_get_bits(pub);
  return f;
}

}  // namespace certherd::sim
