// Error values of the pki layer: an error code of its own category plus a detail a person can
// read (usually OpenSSL's own reason). Expected failures are returned, never thrown.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <system_error>

namespace certherd::pki {

enum class errc {
  invalid_pem = 1,
  invalid_der,
  unsupported_key,
  crypto_failure,
  invalid_name,
  verification_failed,
  key_mismatch,
};

const std::error_category& pki_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

/// \brief A failure of a pki operation: what kind, and OpenSSL's (or our) words for why.
struct error {
  errc code;
  std::string detail;
  /// \brief "<category message>: <detail>", one line.
  std::string message() const;
};

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// \brief Drains OpenSSL's thread-local error queue into one line (empty when nothing queued).
std::string openssl_errors();

/// \brief An error whose detail is `what` followed by OpenSSL's queued reasons.
error openssl_failure(errc code, std::string_view what);

}  // namespace certherd::pki

template <>
struct std::is_error_code_enum<certherd::pki::errc> : std::true_type {};
