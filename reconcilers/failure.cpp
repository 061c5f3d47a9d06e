#include "reconcilers/failure.hpp"

#include <array>
#include <utility>

namespace certherd::reconcilers {
namespace {

// RFC 8555 §6.7 (and RFC 8737's tls for completeness): the problem types a decision tells apart.
constexpr std::array<std::pair<std::string_view, failure_kind>, 14> kProblems{{
    {"rateLimited", failure_kind::rate_limited},
    {"badNonce", failure_kind::bad_nonce},
    {"unauthorized", failure_kind::unauthorized},
    {"incorrectResponse", failure_kind::validation},
    {"connection", failure_kind::validation},
    {"dns", failure_kind::validation},
    {"tls", failure_kind::validation},
    {"caa", failure_kind::caa},
    {"rejectedIdentifier", failure_kind::rejected_identifier},
    {"unsupportedIdentifier", failure_kind::rejected_identifier},
    {"serverInternal", failure_kind::server_internal},
    {"accountDoesNotExist", failure_kind::account_unknown},
    {"badCSR", failure_kind::internal},
    {"badSignatureAlgorithm", failure_kind::internal},
}};

constexpr std::string_view kAcmePrefix = "urn:ietf:params:acme:error:";

std::string_view short_type(std::string_view type) {
  if (type.starts_with(kAcmePrefix)) type.remove_prefix(kAcmePrefix.size());
  return type;
}

}  // namespace

failure_kind kind_of_problem(std::string_view type) noexcept {
  auto t = short_type(type);
  for (const auto& [name, kind] : kProblems) {
    if (name == t) return kind;
  }
  return failure_kind::ca_refused;
}

failure failure_from(const acme::error& e) {
  failure f;
  f.message = e.message();
  if (e.server) {
    f.problem_type = std::string(short_type(e.server->type));
    f.retry_after = e.server->retry_after;
  }
  using acme::errc;
  switch (e.code) {
    case errc::transport:
      f.kind = failure_kind::transport;
      break;
    case errc::bad_nonce_exhausted:
      f.kind = failure_kind::bad_nonce;
      break;
    case errc::account_not_valid:
      f.kind = e.server ? kind_of_problem(e.server->type) : failure_kind::unauthorized;
      break;
    case errc::server_problem:
      f.kind = e.server ? kind_of_problem(e.server->type) : failure_kind::ca_refused;
      break;
    case errc::authorization_failed:
      // The challenge's own error says why ("connection", "incorrectResponse", "caa", …).
      f.kind = e.server ? kind_of_problem(e.server->type) : failure_kind::validation;
      // "unauthorized" in a challenge's error is its answer not matching (a 404, another
      // token): a failed validation, not an account the CA refuses.
      if (f.kind == failure_kind::ca_refused || f.kind == failure_kind::unauthorized) {
        f.kind = failure_kind::validation;
      }
      break;
    case errc::order_invalid:
      f.kind = e.server ? kind_of_problem(e.server->type) : failure_kind::ca_refused;
      break;
    case errc::unsupported_challenge:
      f.kind = failure_kind::ca_refused;
      break;
    case errc::challenge_setup_failed:
    case errc::self_check_failed:
      f.kind = failure_kind::challenge_setup;
      break;
    case errc::poll_exhausted:
      f.kind = failure_kind::server_internal;
      break;
    case errc::bad_response:
    case errc::invalid_certificate:
      f.kind = failure_kind::ca_misbehaved;
      break;
    case errc::crypto_failure:
      f.kind = failure_kind::internal;
      break;
    case errc::unsupported_profile:
      f.kind = failure_kind::configuration;
      break;
  }
  return f;
}

failure failure_from(const rancher::error& e) {
  switch (e.kind()) {
    case rancher::error_kind::transport:
      return fail(failure_kind::transport, e.to_string());
    case rancher::error_kind::unauthorized:
    case rancher::error_kind::forbidden:
      return fail(failure_kind::configuration, e.to_string());
    default:
      return fail(failure_kind::target_refused, e.to_string());
  }
}

}  // namespace certherd::reconcilers
