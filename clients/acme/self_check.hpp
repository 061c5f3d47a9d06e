// The HTTP-01 self-check's rules, without I/O (issue 11 §3): before the CA is told to validate,
// certherd fetches http://<host>/.well-known/acme-challenge/<token> the way the CA will and
// compares the key authorization, so that a route that is wrong costs a look of its own, not a
// failed validation at the CA (Let's Encrypt allows 5 per name an hour). The rules are those of
// Let's Encrypt's validator (Boulder's va/http.go): port 80 first; redirects followed at most 10
// times, only to http or https, only to ports 80 and 443, only to domain names (never an IP
// address); an https hop's certificate is not verified (the host has none yet); IPv6 first when
// the name has both families, IPv4 when IPv6 cannot be reached; the answer must be 200 and its
// body, trailing white space trimmed, the key authorization. The I/O is self_checker.hpp's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::acme {

/// Redirects a validator follows before it gives up (Boulder's maxRedirect).
inline constexpr int kMaxSelfCheckRedirects = 10;

/// \brief The URL a self-check starts at: http://<host>/.well-known/acme-challenge/<token>.
std::string challenge_url(std::string_view host, std::string_view token);

/// \brief The absolute URL a redirect from `from` to `location` (a Location header, absolute or
/// relative) leads to, when the CA would follow it; nullopt with `why` (the CA's reason, naming
/// the target) when it would not.
std::optional<std::string> follow_redirect(std::string_view from, std::string_view location,
                                           std::string& why);

/// \brief Whether `body` is `key_authorization` as the CA compares them: trailing white space
/// is trimmed, nothing else.
bool is_key_authorization(std::string_view body, std::string_view key_authorization) noexcept;

/// \brief What a body that is not `key_authorization` was, for a person: the token when it is the
/// key authorization of another token of the same account (a stale file, another webroot's),
/// else only its size and type — a redirect can lead the check to any server, and what an
/// internal one answers is not for a log line.
std::string what_was_sent(std::string_view body, std::string_view content_type,
                          std::string_view key_authorization);

/// \brief At most `limit` characters of what a server sent, safe for a log line and a status
/// page: control characters, quotes, backslashes and bytes past ASCII escaped.
std::string excerpt(std::string_view body, std::size_t limit = 60);

/// \brief The addresses a validator tries, in order, from what the name resolved to: the first
/// IPv6 address, then the first IPv4 address (each only when the name has one).
std::vector<std::string> validator_addresses(const std::vector<std::string>& resolved);

}  // namespace certherd::acme
