// Private keys: generation (EC P-256 default, P-384, RSA 2048/3072/4096), PEM in and out, the
// public parameters a JWK needs, and signing. One owner of the EVP_PKEY; copies share it.
#pragma once

#include "pki/error.hpp"

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;

namespace certherd::pki {

enum class key_type { ec256, ec384, rsa2048, rsa3072, rsa4096 };

std::string_view to_string(key_type t) noexcept;
std::ostream& operator<<(std::ostream& os, key_type t);
/// \brief Parses "ec256", "ec384", "rsa2048", "rsa3072" or "rsa4096".
std::optional<key_type> parse_key_type(std::string_view text) noexcept;

/// \brief The public numbers of a key as unsigned big-endian bytes: x and y (padded to the
/// field size) for EC keys, n and e for RSA keys.
struct public_numbers {
  std::string x, y;
  std::string n, e;
};

class private_key {
 public:
  /// \brief A fresh key of the given type from OpenSSL's default random generator.
  static result<private_key> generate(key_type type);
  /// \brief Reads a PEM private key (PKCS#8, SEC1 or PKCS#1); keys of other types are refused.
  static result<private_key> from_pem(std::string_view pem);

  /// \brief Unencrypted PKCS#8 PEM. Handle the result as a secret.
  std::string to_pem() const;
  /// \brief DER SubjectPublicKeyInfo.
  std::string public_der() const;
  key_type type() const noexcept { return type_; }
  bool is_ec() const noexcept { return type_ == key_type::ec256 || type_ == key_type::ec384; }
  public_numbers numbers() const;

  /// \brief Signs `data` with SHA-256 (SHA-384 for P-384). EC signatures come out DER-encoded.
  result<std::string> sign(std::string_view data) const;

  evp_pkey_st* native() const noexcept { return pkey_.get(); }

 private:
  private_key(std::shared_ptr<evp_pkey_st> pkey, key_type type)
      : pkey_(std::move(pkey)), type_(type) {}
  std::shared_ptr<evp_pkey_st> pkey_;
  key_type type_;
};

}  // namespace certherd::pki
