// ACME resources as values (RFC 8555 §7.1): directory, account, order, authorization and
// challenge, with their status enums mapped 1:1 to the RFC's strings, and parsers from the JSON
// bodies the server sends. Parsers are strict about what the RFC requires and ignore the rest.
#pragma once

#include "clients/acme/error.hpp"

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::acme {

struct directory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string revoke_cert;
  std::string key_change;
  std::string renewal_info;  ///< RFC 9773, empty when the CA has no ARI
  std::string terms_of_service;
  bool external_account_required = false;
  std::vector<std::string> profiles;  ///< names of meta.profiles
};

enum class account_status { valid, deactivated, revoked };
enum class order_status { pending, ready, processing, valid, invalid };
enum class authorization_status { pending, valid, invalid, deactivated, expired, revoked };
enum class challenge_status { pending, processing, valid, invalid };

std::string_view to_string(account_status s) noexcept;
std::string_view to_string(order_status s) noexcept;
std::string_view to_string(authorization_status s) noexcept;
std::string_view to_string(challenge_status s) noexcept;
std::ostream& operator<<(std::ostream& os, order_status s);
std::ostream& operator<<(std::ostream& os, authorization_status s);

struct identifier {
  std::string type = "dns";
  std::string value;
  friend bool operator==(const identifier&, const identifier&) = default;
};

struct account {
  std::string url;  ///< the Location of newAccount: the `kid` of every later request
  account_status status = account_status::valid;
  std::vector<std::string> contact;
};

struct order {
  std::string url;
  order_status status = order_status::pending;
  std::vector<identifier> identifiers;
  std::vector<std::string> authorizations;
  std::string finalize;
  std::string certificate;
  std::optional<problem> error;
};

struct challenge {
  std::string type;
  std::string url;
  std::string token;
  challenge_status status = challenge_status::pending;
  std::optional<problem> error;
};

struct authorization {
  std::string url;
  identifier id;
  authorization_status status = authorization_status::pending;
  bool wildcard = false;
  std::vector<challenge> challenges;

  /// \brief The first challenge of `type`, if offered.
  const challenge* find(std::string_view type) const;
};

result<directory> parse_directory(std::string_view body);
result<account> parse_account(std::string_view body);
result<order> parse_order(std::string_view body);
result<authorization> parse_authorization(std::string_view body);
/// \brief Reads a problem document; nullopt when `body` is not one.
std::optional<problem> parse_problem(std::string_view body);

/// \brief Payload of newOrder: {"identifiers":[…], "profile"?}.
/// \brief The newOrder payload; `profile` and `replaces` (RFC 9773 §5) are left out when empty.
std::string new_order_payload(const std::vector<identifier>& ids, std::string_view profile,
                              std::string_view replaces = {});
/// \brief Why `profile` cannot be asked of the CA of `d` (it offers no profiles, or not that
/// one: the message names those it offers); nothing for the CA's default (an empty profile).
std::optional<std::string> profile_problem(const directory& d, std::string_view profile);

/// \brief Payload of newAccount.
std::string new_account_payload(const std::vector<std::string>& contact, bool only_return_existing,
                                std::string_view eab_jws);

}  // namespace certherd::acme

namespace certherd::acme {

/// \brief Targets of the response's `Link` headers with the given relation (RFC 8288), in order:
/// several headers and comma-joined values are both read.
std::vector<std::string> link_targets(const std::vector<std::string_view>& link_headers,
                                      std::string_view rel);

}  // namespace certherd::acme
