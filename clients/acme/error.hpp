// ACME errors as values: an error code of our own category for what went wrong on our side of the
// protocol, and the server's RFC 7807 problem document (type, detail, subproblems) when the CA said
// why. RFC 8555 §6.7 lists the problem types.
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace certherd::acme {

enum class errc {
  transport = 1,           ///< no HTTP response (connect, TLS, timeout): see `detail`
  bad_response,            ///< the server's answer is not what RFC 8555 says it must be
  server_problem,          ///< the server answered with a problem document: see `problem`
  bad_nonce_exhausted,     ///< badNonce on every permitted re-signing
  account_not_valid,       ///< the account is deactivated or revoked
  order_invalid,           ///< the order became invalid
  authorization_failed,    ///< an authorization became invalid (validation failed)
  unsupported_challenge,   ///< no http-01 challenge offered for an identifier
  challenge_setup_failed,  ///< the HTTP-01 presenter could not publish a key authorization
  poll_exhausted,          ///< a resource stayed pending past the polling bound
  invalid_certificate,     ///< the downloaded chain does not parse or does not match the key
  crypto_failure,          ///< signing or key handling failed locally
  self_check_failed,    ///< the challenge did not answer its key authorization here: CA not asked
  unsupported_profile,  ///< the directory does not offer the profile asked for: nothing sent
};

const std::error_category& acme_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

/// \brief One entry of a problem's `subproblems` (RFC 8555 §6.7.1).
struct subproblem {
  std::string type;
  std::string detail;
  std::string identifier;  ///< the identifier's value, when given
};

/// \brief An RFC 7807 problem document as ACME servers send it.
struct problem {
  std::string type;  ///< full URN, e.g. urn:ietf:params:acme:error:badNonce
  std::string detail;
  unsigned status = 0;
  std::vector<subproblem> subproblems;
  std::optional<std::chrono::seconds> retry_after;  ///< from the response's Retry-After header

  /// \brief The type without the ACME namespace prefix ("badNonce"), or the full type otherwise.
  std::string short_type() const;
  bool is(std::string_view acme_type) const { return short_type() == acme_type; }
};

struct error {
  errc code;
  std::string detail;
  std::optional<problem> server;

  /// \brief One line: what failed, and the CA's type and detail with every subproblem.
  std::string message() const;
};

std::ostream& operator<<(std::ostream& os, const error& e);

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace certherd::acme

template <>
struct std::is_error_code_enum<certherd::acme::errc> : std::true_type {};
