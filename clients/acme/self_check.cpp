#include "clients/acme/self_check.hpp"

#include "clients/acme/http01.hpp"
#include "clients/http/url.hpp"
#include "pki/names.hpp"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace certherd::acme {

std::string challenge_url(std::string_view host, std::string_view token) {
  return fmt::format("http://{}/.well-known/acme-challenge/{}", host, token);
}

std::optional<std::string> follow_redirect(std::string_view from, std::string_view location,
                                           std::string& why) {
  auto base = boost::urls::parse_uri(from);
  auto ref = boost::urls::parse_uri_reference(location);
  if (!base || !ref) {
    why = fmt::format("a redirect to '{}', which is not a URL", excerpt(location));
    return std::nullopt;
  }
  boost::urls::url next;
  if (auto r = boost::urls::resolve(*base, *ref, next); !r) {
    why = fmt::format("a redirect to '{}', which is not a URL", excerpt(location));
    return std::nullopt;
  }
  next.remove_fragment();
  std::string scheme(next.scheme());
  for (auto& c : scheme)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto shown = excerpt(next.buffer(), 200);
  if (scheme != "http" && scheme != "https") {
    why =
        fmt::format("a redirect to {}, which the CA does not follow (only http and https)", shown);
    return std::nullopt;
  }
  unsigned port = 0;
  if (next.has_port()) {
    auto digits = next.port();
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size()) port = 0;
  }
  if (next.has_port() && port != 80 && port != 443) {
    why = fmt::format("a redirect to {}, which the CA does not follow (only to ports 80 and 443)",
                      shown);
    return std::nullopt;
  }
  next.set_scheme(scheme);
  std::string url(next.buffer());
  std::string parse_why;
  auto parts = http::parse_url(url, http::url_family::http, parse_why);
  if (!parts) {
    why = fmt::format("a redirect to {}, which is not a URL the CA can follow", shown);
    return std::nullopt;
  }
  if (parts->ip_literal) {
    why = fmt::format(
        "a redirect to {}, which the CA does not follow (only to names, not IP addresses)", shown);
    return std::nullopt;
  }
  // A name as the CA takes one: labels of letters, digits and hyphens, ending in a TLD (never
  // all digits, so "127.1" or "2130706433" that a resolver would read as an address are refused).
  auto host = pki::normalize_host(parts->host);
  auto last = std::string_view(host).substr(host.rfind('.') + 1);
  bool tld = std::any_of(last.begin(), last.end(),
                         [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
  if (!pki::check_host(host) || !tld) {
    why = fmt::format(
        "a redirect to {}, which the CA does not follow (not a domain name it can look up)", shown);
    return std::nullopt;
  }
  return url;
}

bool is_key_authorization(std::string_view body, std::string_view key_authorization) noexcept {
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t' || body.back() == '\n' ||
                           body.back() == '\r' || body.back() == '\v' || body.back() == '\f')) {
    body.remove_suffix(1);
  }
  return !key_authorization.empty() && body == key_authorization;
}

std::string what_was_sent(std::string_view body, std::string_view content_type,
                          std::string_view key_authorization) {
  std::string_view trimmed = body;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.remove_suffix(1);
  // Another token's key authorization of this account: token "." thumbprint.
  auto dot = key_authorization.rfind('.');
  if (dot != std::string_view::npos && trimmed.size() > key_authorization.size() - dot &&
      trimmed.size() <= 300 && trimmed.ends_with(key_authorization.substr(dot))) {
    auto token = trimmed.substr(0, trimmed.size() - (key_authorization.size() - dot));
    if (is_safe_token(token)) {
      return fmt::format("the key authorization of another token, {}", excerpt(token, 60));
    }
  }
  if (body.empty()) return "nothing";
  return fmt::format("{} byte{}{}{}", body.size(), body.size() == 1 ? "" : "s",
                     content_type.empty() ? "" : " of ", excerpt(content_type, 60));
}

std::string excerpt(std::string_view body, std::size_t limit) {
  std::string out;
  std::size_t shown = 0;
  for (unsigned char c : body) {
    if (shown == limit) {
      out += "…";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
    ++shown;
  }
  return out;
}

std::vector<std::string> validator_addresses(const std::vector<std::string>& resolved) {
  std::optional<std::string> v4, v6;
  for (const auto& a : resolved) {
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(a, ec);
    if (ec) continue;
    if (ip.is_v6() && !v6) v6 = a;
    if (ip.is_v4() && !v4) v4 = a;
  }
  std::vector<std::string> out;
  if (v6) out.push_back(*v6);
  if (v4) out.push_back(*v4);
  return out;
}

}  // namespace certherd::acme
