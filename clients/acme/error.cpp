#include "clients/acme/error.hpp"

#include <fmt/format.h>

#include <ostream>

namespace certherd::acme {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "certherd.acme"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::transport:
        return "no answer from the ACME server";
      case errc::bad_response:
        return "malformed ACME response";
      case errc::server_problem:
        return "ACME server refused the request";
      case errc::bad_nonce_exhausted:
        return "ACME server kept rejecting nonces";
      case errc::account_not_valid:
        return "ACME account is not valid";
      case errc::order_invalid:
        return "ACME order became invalid";
      case errc::authorization_failed:
        return "ACME authorization failed";
      case errc::unsupported_challenge:
        return "no HTTP-01 challenge offered";
      case errc::challenge_setup_failed:
        return "HTTP-01 challenge could not be published";
      case errc::poll_exhausted:
        return "ACME resource did not settle in time";
      case errc::invalid_certificate:
        return "issued certificate is unusable";
      case errc::crypto_failure:
        return "local cryptographic failure";
      case errc::self_check_failed:
        return "HTTP-01 self-check failed";
      case errc::unsupported_profile:
        return "the ACME server does not offer that profile";
    }
    return "unknown ACME error";
  }
};

constexpr std::string_view kAcmePrefix = "urn:ietf:params:acme:error:";

}  // namespace

const std::error_category& acme_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), acme_category()};
}

std::string problem::short_type() const {
  std::string_view t = type;
  if (t.starts_with(kAcmePrefix)) t.remove_prefix(kAcmePrefix.size());
  return std::string(t);
}

std::string error::message() const {
  std::string out = make_error_code(code).message();
  if (!detail.empty()) out += ": " + detail;
  if (server) {
    out += fmt::format(" [{}", server->short_type());
    if (server->status) out += fmt::format(" {}", server->status);
    out += "]";
    if (!server->detail.empty()) out += " " + server->detail;
    for (const auto& sub : server->subproblems) {
      out += fmt::format(
          "; {}{}: {}", sub.identifier.empty() ? "" : sub.identifier + " ",
          sub.type.starts_with(kAcmePrefix) ? sub.type.substr(kAcmePrefix.size()) : sub.type,
          sub.detail);
    }
    if (server->retry_after)
      out += fmt::format(" (retry after {} s)", server->retry_after->count());
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const error& e) {
  return os << e.message();
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::system_error(make_error_code(e.code), e.message());
}

}  // namespace certherd::acme
