#include "clients/acme/jws.hpp"

#include "pki/encoding.hpp"
#include "pki/ossl.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace certherd::acme {
namespace {

using pki::base64url_encode;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key_value(json_writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string flattened(std::string_view protected_b64, std::string_view payload_b64,
                      std::string_view signature) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  key_value(w, "protected", protected_b64);
  key_value(w, "payload", payload_b64);
  key_value(w, "signature", base64url_encode(signature));
  w.EndObject();
  return buf.GetString();
}

std::size_t field_bytes(const pki::private_key& key) {
  return key.type() == pki::key_type::ec384 ? 48 : 32;
}

}  // namespace

std::string_view jws_algorithm(const pki::private_key& key) noexcept {
  switch (key.type()) {
    case pki::key_type::ec256:
      return "ES256";
    case pki::key_type::ec384:
      return "ES384";
    default:
      return "RS256";
  }
}

std::string jwk_json(const pki::private_key& key) {
  return jwk_json(key.numbers(), key.type());
}

std::string jwk_json(const pki::public_numbers& n, pki::key_type type) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  if (type == pki::key_type::ec256 || type == pki::key_type::ec384) {
    key_value(w, "crv", type == pki::key_type::ec256 ? "P-256" : "P-384");
    key_value(w, "kty", "EC");
    key_value(w, "x", base64url_encode(n.x));
    key_value(w, "y", base64url_encode(n.y));
  } else {
    key_value(w, "e", base64url_encode(n.e));
    key_value(w, "kty", "RSA");
    key_value(w, "n", base64url_encode(n.n));
  }
  w.EndObject();
  return buf.GetString();
}

std::string jwk_thumbprint(const pki::private_key& key) {
  return base64url_encode(pki::sha256(jwk_json(key)));
}

std::string key_authorization(std::string_view token, const pki::private_key& account_key) {
  return std::string(token) + "." + jwk_thumbprint(account_key);
}

result<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t field) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  pki::ossl::ecdsa_sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return error{errc::crypto_failure, "ECDSA signature is not DER", {}};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * field, '\0');
  auto buf = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, buf, static_cast<int>(field)) < 0 ||
      BN_bn2binpad(s, buf + field, static_cast<int>(field)) < 0) {
    return error{errc::crypto_failure, "ECDSA signature component too large", {}};
  }
  return out;
}

result<std::string> sign_jws(const signer& who, std::string_view url, std::string_view nonce,
                             std::string_view payload) {
  const pki::private_key& key = *who.key;
  rapidjson::StringBuffer header;
  {
    json_writer w(header);
    w.StartObject();
    key_value(w, "alg", jws_algorithm(key));
    if (who.kid.empty()) {
      w.Key("jwk");
      std::string jwk = jwk_json(key);
      w.RawValue(jwk.data(), jwk.size(), rapidjson::kObjectType);
    } else {
      key_value(w, "kid", who.kid);
    }
    if (!nonce.empty()) key_value(w, "nonce", nonce);
    key_value(w, "url", url);
    w.EndObject();
  }
  std::string protected_b64 = base64url_encode(header.GetString());
  std::string payload_b64 = base64url_encode(payload);
  auto sig = key.sign(protected_b64 + "." + payload_b64);
  if (!sig) return error{errc::crypto_failure, sig.error().message(), {}};
  if (key.is_ec()) {
    auto raw = ecdsa_der_to_raw(*sig, field_bytes(key));
    if (!raw) return raw.error();
    return flattened(protected_b64, payload_b64, *raw);
  }
  return flattened(protected_b64, payload_b64, *sig);
}

result<std::string> external_account_binding(const pki::private_key& account_key,
                                             std::string_view eab_kid,
                                             std::string_view eab_hmac_b64url,
                                             std::string_view new_account_url) {
  auto mac_key = pki::base64url_decode(eab_hmac_b64url);
  if (!mac_key || mac_key->empty()) {
    return error{errc::crypto_failure, "the EAB HMAC key is not base64url", {}};
  }
  rapidjson::StringBuffer header;
  {
    json_writer w(header);
    w.StartObject();
    key_value(w, "alg", "HS256");
    key_value(w, "kid", eab_kid);
    key_value(w, "url", new_account_url);
    w.EndObject();
  }
  std::string protected_b64 = base64url_encode(header.GetString());
  std::string payload_b64 = base64url_encode(jwk_json(account_key));
  return flattened(protected_b64, payload_b64,
                   pki::hmac_sha256(*mac_key, protected_b64 + "." + payload_b64));
}

}  // namespace certherd::acme
