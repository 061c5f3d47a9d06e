#include "pki/certificate.hpp"

#include "pki/encoding.hpp"
#include "pki/ossl.hpp"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <unordered_map>

namespace certherd::pki {
namespace {

std::shared_ptr<X509> share(X509* raw) {
  return {raw, ossl::deleter<X509_free>{}};
}

std::string name_line(const X509_NAME* name) {
  ossl::bio_ptr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return ossl::bio_contents(bio.get());
}

sys_seconds to_sys(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return sys_seconds{};
  return sys_seconds{std::chrono::seconds{timegm(&tm)}};
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  int len = ASN1_STRING_length(ip);
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  if (len == 4) inet_ntop(AF_INET, data, buf, sizeof buf);
  if (len == 16) inet_ntop(AF_INET6, data, buf, sizeof buf);
  return buf;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// "DNS:a,IP:1.2.3.4" for X509V3_EXT_conf_nid.
std::string san_config(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ',';
    out += (is_ip_literal(n) ? "IP:" : "DNS:") + n;
  }
  return out;
}

bool only_whitespace(std::string_view s) {
  for (unsigned char c : s) {
    if (!std::isspace(c)) return false;
  }
  return true;
}

const EVP_MD* digest_for(const private_key& key) {
  return key.type() == key_type::ec384 ? EVP_sha384() : EVP_sha256();
}

}  // namespace

result<certificate> certificate::from_der(std::string_view der) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!raw) return openssl_failure(errc::invalid_der, "not a DER certificate");
  return certificate(share(raw));
}

std::string certificate::der() const {
  unsigned char* out = nullptr;
  int len = i2d_X509(x509_.get(), &out);
  if (len <= 0) return {};
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return der;
}

std::string certificate::pem() const {
  ossl::bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x509_.get());
  return ossl::bio_contents(bio.get());
}

std::vector<std::string> certificate::subject_alt_names() const {
  std::vector<std::string> out;
  ossl::general_names_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x509_.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      auto s = gn->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      out.push_back(ip_text(gn->d.iPAddress));
    }
  }
  return out;
}

std::string certificate::subject() const {
  return name_line(X509_get_subject_name(x509_.get()));
}
std::string certificate::issuer() const {
  return name_line(X509_get_issuer_name(x509_.get()));
}

std::string certificate::issuer_common_name() const {
  const X509_NAME* name = X509_get_issuer_name(x509_.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

sys_seconds certificate::not_before() const {
  return to_sys(X509_get0_notBefore(x509_.get()));
}
sys_seconds certificate::not_after() const {
  return to_sys(X509_get0_notAfter(x509_.get()));
}

std::string certificate::serial_hex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x509_.get());
  ossl::bn_ptr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(bytes.data()));
  return hex_encode(bytes);
}

std::string certificate::fingerprint_sha256() const {
  return hex_encode(sha256(der()));
}

std::string certificate::fingerprint_sha1() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(x509_.get(), EVP_sha1(), md, &len);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

bool certificate::is_self_issued() const {
  return X509_NAME_cmp(X509_get_subject_name(x509_.get()), X509_get_issuer_name(x509_.get())) == 0;
}

bool certificate::matches(const private_key& key) const {
  return X509_check_private_key(x509_.get(), key.native()) == 1 || (openssl_errors(), false);
}

namespace {

// Issuer certificates already parsed, by their PEM block. Bounded: forgotten whole when full.
struct parsed_issuers {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<X509>> by_pem;
};
constexpr std::size_t kParsedIssuersMax = 256;

parsed_issuers& issuers() {
  static parsed_issuers p;
  return p;
}

std::shared_ptr<X509> known_issuer(std::string_view block) {
  auto& p = issuers();
  std::lock_guard lock(p.mu);
  auto it = p.by_pem.find(std::string(block));
  return it == p.by_pem.end() ? nullptr : it->second;
}

void remember_issuer(std::string_view block, std::shared_ptr<X509> cert) {
  auto& p = issuers();
  std::lock_guard lock(p.mu);
  if (p.by_pem.size() >= kParsedIssuersMax) p.by_pem.clear();
  p.by_pem.emplace(std::string(block), std::move(cert));
}

}  // namespace

namespace {

constexpr std::string_view kPemBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemEnd = "-----END CERTIFICATE-----";

// The certificate blocks of `pem`, from BEGIN to END, with nothing but white space around and
// between them; otherwise why not.
result<std::vector<std::string_view>> pem_blocks(std::string_view pem) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (true) {
    std::size_t b = pem.find(kPemBegin, pos);
    if (!only_whitespace(pem.substr(pos, b == std::string_view::npos ? pem.npos : b - pos))) {
      return error{errc::invalid_pem, "unexpected text between PEM certificate blocks"};
    }
    if (b == std::string_view::npos) break;
    std::size_t e = pem.find(kPemEnd, b);
    if (e == std::string_view::npos)
      return error{errc::invalid_pem, "unterminated certificate block"};
    e += kPemEnd.size();
    out.push_back(pem.substr(b, e - b));
    pos = e;
  }
  if (out.empty()) return error{errc::invalid_pem, "no certificate in PEM"};
  return out;
}

// The DER inside a block, when it is base64 of exactly one DER SEQUENCE (short or long form
// length spanning the whole of it).
std::optional<std::string> block_der(std::string_view block) {
  std::string body;
  for (char c : block.substr(kPemBegin.size(), block.size() - kPemBegin.size() - kPemEnd.size())) {
    if (!std::isspace(static_cast<unsigned char>(c))) body += c;
  }
  auto der = base64_decode(body);
  if (!der || der->size() < 2 || static_cast<unsigned char>((*der)[0]) != 0x30) return std::nullopt;
  std::size_t len = static_cast<unsigned char>((*der)[1]), header = 2;
  if (len & 0x80) {
    std::size_t n = len & 0x7f;
    if (n == 0 || n > 4 || der->size() < 2 + n) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < n; ++i)
      len = (len << 8) | static_cast<unsigned char>((*der)[2 + i]);
    header += n;
  }
  if (header + len != der->size()) return std::nullopt;
  return der;
}

}  // namespace

std::optional<std::string> pem_leaf_fingerprint(std::string_view pem) {
  auto blocks = pem_blocks(pem);
  if (!blocks) return std::nullopt;
  std::optional<std::string> leaf;
  for (auto block : *blocks) {
    auto der = block_der(block);
    if (!der) return std::nullopt;
    if (!leaf) leaf = hex_encode(sha256(*der));
  }
  return leaf;
}

result<std::vector<certificate>> parse_pem_chain(std::string_view pem) {
  auto blocks = pem_blocks(pem);
  if (!blocks) return blocks.error();
  std::vector<certificate> out;
  for (auto block : *blocks) {
    // The certificates after the leaf are its issuers, the same in every chain of a CA: parsed
    // once and shared (OpenSSL 3 spends ~0.1 ms decoding each certificate's public key).
    std::shared_ptr<X509> parsed = out.empty() ? nullptr : known_issuer(block);
    if (!parsed) {
      auto bio = ossl::read_bio(block.data(), block.size());
      X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
      if (!raw) {
        return openssl_failure(
            errc::invalid_pem,
            "certificate block " + std::to_string(out.size() + 1) + " is invalid");
      }
      parsed = share(raw);
      if (!out.empty()) remember_issuer(block, parsed);
    }
    out.push_back(certificate(std::move(parsed)));
  }
  return out;
}

result<void> check_issued(const certificate& leaf, const private_key& key,
                          const std::vector<std::string>& hosts) {
  if (!leaf.matches(key)) {
    return error{errc::key_mismatch, "the CA returned a certificate for another key"};
  }
  auto sans = leaf.subject_alt_names();
  for (const auto& h : hosts) {
    if (std::find(sans.begin(), sans.end(), h) == sans.end()) {
      return error{errc::invalid_name, "the issued certificate does not cover " + h};
    }
  }
  return {};
}

std::string to_pem(std::span<const certificate> chain) {
  std::string out;
  for (const auto& c : chain)
    out += c.pem();
  return out;
}

result<std::string> make_csr_der(const private_key& key, const std::vector<std::string>& names) {
  if (names.empty()) return error{errc::invalid_name, "a CSR needs at least one name"};
  ossl::x509_req_ptr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) {
    return openssl_failure(errc::crypto_failure, "CSR allocation failed");
  }
  // The CN is optional (RFC 8555 §7.4 lets the CA take names from the SANs); it only fits 64 bytes.
  if (names.front().size() <= 64 && !is_ip_literal(names.front())) {
    X509_NAME* subject = X509_REQ_get_subject_name(req.get());
    X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(names.front().c_str()), -1,
                               -1, 0);
  }
  X509_REQ_set_pubkey(req.get(), key.native());
  ossl::x509_extension_ptr san(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san_config(names).c_str()));
  if (!san) return openssl_failure(errc::invalid_name, "names do not form a subjectAltName");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, san.get());
  int added = X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_free(exts);
  if (added != 1 || X509_REQ_sign(req.get(), key.native(), digest_for(key)) <= 0) {
    return openssl_failure(errc::crypto_failure, "CSR signing failed");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0) return openssl_failure(errc::crypto_failure, "CSR encoding failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Builds and signs one certificate; the issuer is the subject itself when `issuer` is null.
struct certificate_builder {
  static result<certificate> build(const private_key& subject_key, const std::string& cn,
                                   const std::vector<std::string>& names, bool is_ca,
                                   const certificate* issuer, const private_key& issuer_key,
                                   sys_seconds now, std::chrono::seconds validity) {
    ossl::x509_ptr x(X509_new());
    if (!x) return openssl_failure(errc::crypto_failure, "certificate allocation failed");
    X509_set_version(x.get(), 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    ossl::bn_ptr bn(BN_bin2bn(serial, sizeof serial, nullptr));
    BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()));
    auto start = now - std::chrono::hours(1);
    ASN1_TIME_set(X509_getm_notBefore(x.get()), start.time_since_epoch().count());
    ASN1_TIME_set(X509_getm_notAfter(x.get()), (now + validity).time_since_epoch().count());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer->native()) : name);
    X509_set_pubkey(x.get(), subject_key.native());
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer->native() : x.get(), x.get(), nullptr, nullptr, 0);
    std::vector<std::pair<int, std::string>> exts;
    if (is_ca) {
      exts = {{NID_basic_constraints, "critical,CA:TRUE"},
              {NID_key_usage, "critical,keyCertSign,cRLSign"},
              {NID_subject_key_identifier, "hash"}};
      if (issuer) exts.emplace_back(NID_authority_key_identifier, "keyid:always");
    } else {
      exts = {{NID_subject_alt_name, san_config(names)},
              {NID_basic_constraints, "critical,CA:FALSE"},
              {NID_ext_key_usage, "serverAuth"}};
      if (issuer) exts.emplace_back(NID_authority_key_identifier, "keyid:always");
    }
    for (const auto& [nid, value] : exts) {
      ossl::x509_extension_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
      if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1) {
        return openssl_failure(errc::invalid_name, "extension '" + value + "' rejected");
      }
    }
    if (X509_sign(x.get(), issuer_key.native(), digest_for(issuer_key)) <= 0) {
      return openssl_failure(errc::crypto_failure, "signing the certificate failed");
    }
    return certificate(share(x.release()));
  }
};

result<certificate> make_self_signed(const private_key& key, const std::vector<std::string>& names,
                                     sys_seconds now, std::chrono::seconds validity) {
  if (names.empty()) return error{errc::invalid_name, "a certificate needs at least one name"};
  std::string cn = names.front().size() <= 64 ? names.front() : "certherd placeholder";
  return certificate_builder::build(key, cn, names, false, nullptr, key, now, validity);
}

result<certificate> make_ca_certificate(const private_key& key, const std::string& common_name,
                                        sys_seconds now, std::chrono::seconds validity) {
  return certificate_builder::build(key, common_name, {}, true, nullptr, key, now, validity);
}

result<certificate> sign_intermediate(const certificate& issuer, const private_key& issuer_key,
                                      const private_key& subject_key,
                                      const std::string& common_name, sys_seconds now,
                                      std::chrono::seconds validity) {
  return certificate_builder::build(subject_key, common_name, {}, true, &issuer, issuer_key, now,
                                    validity);
}

result<certificate> sign_certificate(const certificate& issuer, const private_key& issuer_key,
                                     const private_key& subject_key,
                                     const std::vector<std::string>& names, sys_seconds now,
                                     std::chrono::seconds validity) {
  if (names.empty()) return error{errc::invalid_name, "a certificate needs at least one name"};
  std::string cn = names.front().size() <= 64 ? names.front() : names.front().substr(0, 64);
  return certificate_builder::build(subject_key, cn, names, false, &issuer, issuer_key, now,
                                    validity);
}

namespace {

result<void> verify(const certificate& leaf, std::span<const certificate> intermediates,
                    std::span<const certificate> anchors, std::optional<sys_seconds> at,
                    bool check_time) {
  ossl::x509_store_ptr store(X509_STORE_new());
  for (const auto& a : anchors)
    X509_STORE_add_cert(store.get(), a.native());
  ossl::x509_stack_ptr untrusted(sk_X509_new_null());
  for (const auto& c : intermediates)
    sk_X509_push(untrusted.get(), c.native());
  ossl::x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.native(), untrusted.get()) != 1) {
    return openssl_failure(errc::crypto_failure, "verification setup failed");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  if (at) X509_STORE_CTX_set_time(ctx.get(), 0, at->time_since_epoch().count());
  if (!check_time) X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    openssl_errors();
    return error{errc::verification_failed, X509_verify_cert_error_string(code)};
  }
  return {};
}

}  // namespace

result<void> verify_chain(const certificate& leaf, std::span<const certificate> intermediates,
                          std::span<const certificate> anchors, std::optional<sys_seconds> at) {
  return verify(leaf, intermediates, anchors, at, true);
}

result<void> verify_issuance(const certificate& leaf, std::span<const certificate> intermediates,
                             std::span<const certificate> anchors) {
  return verify(leaf, intermediates, anchors, std::nullopt, false);
}

}  // namespace certherd::pki
