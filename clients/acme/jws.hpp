// JSON Web Signature for ACME (RFC 8555 §6.2, RFC 7515 flattened JSON serialization): the JWK
// of an account key, its RFC 7638 thumbprint, request signing with `jwk` or `kid`, the
// key-change inner JWS and External Account Binding (HS256, RFC 8555 §7.3.4). No I/O.
#pragma once

#include "clients/acme/error.hpp"
#include "pki/key.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace certherd::acme {

/// \brief "ES256", "ES384" or "RS256" for the key's type.
std::string_view jws_algorithm(const pki::private_key& key) noexcept;

/// \brief The public JWK with only the required members in lexicographic order and no white
/// space — the exact input of the RFC 7638 thumbprint.
std::string jwk_json(const pki::private_key& key);
/// \brief The same from public numbers (`ec` with P-256/P-384 by `type`, else RSA).
std::string jwk_json(const pki::public_numbers& numbers, pki::key_type type);

/// \brief base64url(SHA-256(jwk_json(key))).
std::string jwk_thumbprint(const pki::private_key& key);

/// \brief token "." thumbprint — what an HTTP-01 response body must be (RFC 8555 §8.1, §8.3).
std::string key_authorization(std::string_view token, const pki::private_key& account_key);

/// \brief Converts a DER ECDSA signature to JOSE's fixed-size r‖s (RFC 7518 §3.4).
result<std::string> ecdsa_der_to_raw(std::string_view der, std::size_t field_bytes);

/// \brief Who signs: a registered account (`kid` = account URL) or a bare key (`jwk`).
struct signer {
  const pki::private_key* key;
  std::string kid;  ///< empty: embed the JWK instead
};

/// \brief Signs `payload` (already JSON, or empty for POST-as-GET) for `url`.
/// \param nonce empty only for the inner JWS of a key change, which carries none.
result<std::string> sign_jws(const signer& who, std::string_view url, std::string_view nonce,
                             std::string_view payload);

/// \brief The `externalAccountBinding` member of newAccount: the account key's JWK signed with
/// the CA-provided HMAC key (base64url as the CA hands it out).
result<std::string> external_account_binding(const pki::private_key& account_key,
                                             std::string_view eab_kid,
                                             std::string_view eab_hmac_b64url,
                                             std::string_view new_account_url);

}  // namespace certherd::acme
