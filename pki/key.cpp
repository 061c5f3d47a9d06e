#include "pki/key.hpp"

#include "pki/ossl.hpp"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <ostream>

namespace certherd::pki {
namespace {

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* raw) {
  return {raw, ossl::deleter<EVP_PKEY_free>{}};
}

std::optional<key_type> classify(EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &len)) return std::nullopt;
      std::string_view name(group, len);
      if (name == "prime256v1" || name == "P-256") return key_type::ec256;
      if (name == "secp384r1" || name == "P-384") return key_type::ec384;
      return std::nullopt;
    }
    case EVP_PKEY_RSA:
      switch (EVP_PKEY_get_bits(pkey)) {
        case 2048:
          return key_type::rsa2048;
        case 3072:
          return key_type::rsa3072;
        case 4096:
          return key_type::rsa4096;
        default:
          return std::nullopt;
      }
    default:
      return std::nullopt;
  }
}

std::string bn_param(EVP_PKEY* pkey, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(pkey, name, &raw)) return {};
  ossl::bn_ptr bn(raw);
  int size = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<std::size_t>(size), '\0');
  BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), size);
  return out;
}

}  // namespace

std::string_view to_string(key_type t) noexcept {
  switch (t) {
    case key_type::ec256:
      return "ec256";
    case key_type::ec384:
      return "ec384";
    case key_type::rsa2048:
      return "rsa2048";
    case key_type::rsa3072:
      return "rsa3072";
    case key_type::rsa4096:
      return "rsa4096";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, key_type t) {
  return os << to_string(t);
}

std::optional<key_type> parse_key_type(std::string_view text) noexcept {
  for (auto t : {key_type::ec256, key_type::ec384, key_type::rsa2048, key_type::rsa3072,
                 key_type::rsa4096}) {
    if (text == to_string(t)) return t;
  }
  return std::nullopt;
}

result<private_key> private_key::generate(key_type type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case key_type::ec256:
      raw = EVP_EC_gen("P-256");
      break;
    case key_type::ec384:
      raw = EVP_EC_gen("P-384");
      break;
    case key_type::rsa2048:
      raw = EVP_RSA_gen(2048);
      break;
    case key_type::rsa3072:
      raw = EVP_RSA_gen(3072);
      break;
    case key_type::rsa4096:
      raw = EVP_RSA_gen(4096);
      break;
  }
  if (!raw) return openssl_failure(errc::crypto_failure, "key generation failed");
  return private_key(share(raw), type);
}

result<private_key> private_key::from_pem(std::string_view pem) {
  auto bio = ossl::read_bio(pem.data(), pem.size());
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) return openssl_failure(errc::invalid_pem, "no readable private key in PEM");
  auto pkey = share(raw);
  auto type = classify(pkey.get());
  if (!type) {
    openssl_errors();
    return error{errc::unsupported_key, "only EC P-256/P-384 and RSA 2048/3072/4096 keys are used"};
  }
  return private_key(std::move(pkey), *type);
}

std::string private_key::to_pem() const {
  ossl::bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return ossl::bio_contents(bio.get());
}

std::string private_key::public_der() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

public_numbers private_key::numbers() const {
  public_numbers out;
  if (is_ec()) {
    int field = type_ == key_type::ec256 ? 32 : 48;
    out.x = bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_X, field);
    out.y = bn_param(pkey_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, field);
  } else {
    out.n = bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_N, 0);
    out.e = bn_param(pkey_.get(), OSSL_PKEY_PARAM_RSA_E, 0);
  }
  return out;
}

result<std::string> private_key::sign(std::string_view data) const {
  ossl::evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = type_ == key_type::ec384 ? EVP_sha384() : EVP_sha256();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, pkey_.get()) != 1) {
    return openssl_failure(errc::crypto_failure, "signing setup failed");
  }
  auto in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return openssl_failure(errc::crypto_failure, "signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1) {
    return openssl_failure(errc::crypto_failure, "signing failed");
  }
  sig.resize(len);
  return sig;
}

}  // namespace certherd::pki
