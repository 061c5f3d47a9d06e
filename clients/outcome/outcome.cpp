#include "clients/outcome/outcome.hpp"

#include <array>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace certherd {
namespace {

constexpr std::array<std::pair<failure_kind, std::string_view>, 17> kNames{{
    {failure_kind::rate_limited, "rate_limited"},
    {failure_kind::bad_nonce, "bad_nonce"},
    {failure_kind::unauthorized, "unauthorized"},
    {failure_kind::validation, "validation"},
    {failure_kind::caa, "caa"},
    {failure_kind::rejected_identifier, "rejected_identifier"},
    {failure_kind::server_internal, "server_internal"},
    {failure_kind::account_unknown, "account_unknown"},
    {failure_kind::ca_refused, "ca_refused"},
    {failure_kind::ca_misbehaved, "ca_misbehaved"},
    {failure_kind::transport, "transport"},
    {failure_kind::challenge_setup, "challenge_setup"},
    {failure_kind::target_refused, "target_refused"},
    {failure_kind::conflict, "conflict"},
    {failure_kind::store_io, "store_io"},
    {failure_kind::configuration, "configuration"},
    {failure_kind::internal, "internal"},
}};

}  // namespace

std::string_view to_string(failure_kind k) noexcept {
  for (const auto& [kind, name] : kNames) {
    if (kind == k) return name;
  }
  return "internal";
}

std::ostream& operator<<(std::ostream& os, failure_kind k) {
  return os << to_string(k);
}

std::optional<failure_kind> failure_kind_from(std::string_view text) noexcept {
  for (const auto& [kind, name] : kNames) {
    if (name == text) return kind;
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, const failure& f) {
  return os << to_string(f.kind) << ": " << f.message;
}

failure fail(failure_kind kind, std::string message) {
  failure f;
  f.kind = kind;
  f.message = std::move(message);
  return f;
}

failure failure::within(std::string_view where) const {
  failure f = *this;
  f.message = std::string(where) + ": " + message;
  return f;
}

void throw_exception_from_error(const failure& f, const boost::source_location&) {
  throw std::runtime_error(std::string(to_string(f.kind)) + ": " + f.message);
}

}  // namespace certherd
