#include "clients/acme/self_check.hpp"

#include "clients/http/url.hpp"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>

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
  if (next.has_port() && next.port() != "80" && next.port() != "443") {
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
  return url;
}

bool is_key_authorization(std::string_view body, std::string_view key_authorization) noexcept {
  while (!body.empty() && (body.back() == ' ' || body.back() == '\t' || body.back() == '\n' ||
                           body.back() == '\r' || body.back() == '\v' || body.back() == '\f')) {
    body.remove_suffix(1);
  }
  return !key_authorization.empty() && body == key_authorization;
}

std::string what_was_sent(std::string_view body, std::string_view content_type) {
  std::string_view trimmed = body;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.remove_suffix(1);
  bool looks_like_one =
      !trimmed.empty() && trimmed.size() <= 200 &&
      std::all_of(trimmed.begin(), trimmed.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (looks_like_one) return fmt::format("\"{}\"", excerpt(trimmed, 200));
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
