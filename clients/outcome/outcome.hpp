// One error model above the protocol clients (design/0004-errors.md): a failure has a kind that
// decisions read (backoff, /status, the metric's reason label), the CA's problem type and
// Retry-After when it said them, and one line for people. It lives below the stores and the
// reconcilers so that both return it; protocol clients keep their own errors and are translated
// once, at the boundary (reconcilers/failure.hpp for ACME, each target for its client).
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace certherd {

enum class failure_kind {
  // The CA refused, by its problem type (RFC 8555 §6.7).
  rate_limited,         ///< rateLimited: wait for the CA's Retry-After
  bad_nonce,            ///< badNonce on every permitted re-signing
  unauthorized,         ///< unauthorized; an account deactivated or revoked
  validation,           ///< the CA could not validate: incorrectResponse, connection, dns, tls
  caa,                  ///< a CAA record forbids the CA
  rejected_identifier,  ///< rejectedIdentifier, unsupportedIdentifier: the CA will not issue
  server_internal,      ///< serverInternal; a CA that never finishes an order
  account_unknown,      ///< accountDoesNotExist
  ca_refused,           ///< any other problem type
  ca_misbehaved,        ///< an answer RFC 8555 forbids, a chain that is not for our key
  transport,            ///< no answer: connect, TLS, timeout, cut short
  challenge_setup,      ///< the HTTP-01 key authorization could not be published
  target_refused,       ///< a target would not take the certificate
  conflict,             ///< a target holds what is not certherd's
  store_io,             ///< the store could not read or write
  configuration,        ///< a setting is wrong
  internal,             ///< a broken invariant: a bug
};

/// \brief Stable snake_case ("rate_limited"): metric label values, JSON, logs.
std::string_view to_string(failure_kind k) noexcept;
std::ostream& operator<<(std::ostream& os, failure_kind k);
/// \brief The kind `to_string` named, for records read back; nullopt for anything else.
std::optional<failure_kind> failure_kind_from(std::string_view text) noexcept;

struct failure {
  failure_kind kind = failure_kind::internal;
  std::string message;       ///< one line for people (may hold URLs; never a metric label)
  std::string problem_type;  ///< the CA's, short ("rateLimited"), when it said one
  std::optional<std::chrono::seconds> retry_after;  ///< the CA's, when it sent one

  /// \brief The same failure, its message prefixed with where it happened ("store: …").
  failure within(std::string_view where) const;
};

/// \brief "kind: message", for test output and people.
std::ostream& operator<<(std::ostream& os, const failure& f);

/// \brief A failure of `kind` with one line for people (no CA problem, no Retry-After).
failure fail(failure_kind kind, std::string message);

/// \brief A value, or a failure with its kind. `outcome<>` is success with no value.
template <class T = void>
using outcome = boost::system::result<T, failure>;

[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

}  // namespace certherd
