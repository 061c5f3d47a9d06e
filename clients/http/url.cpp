#include "clients/http/url.hpp"

#include <cctype>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

namespace certherd::http {

std::optional<url_parts> parse_url(std::string_view url, url_family family, std::string& why) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    why = fmt::format("invalid URL '{}': {}", url, parsed.error().message());
    return std::nullopt;
  }
  const auto& u = *parsed;
  url_parts p;
  auto scheme = u.scheme();
  const char* plain = family == url_family::http ? "http" : "ws";
  const char* secure = family == url_family::http ? "https" : "wss";
  if (scheme == secure) {
    p.tls = true;
  } else if (scheme != plain) {
    why = fmt::format("URL '{}': only {} and {} are supported", url, plain, secure);
    return std::nullopt;
  }
  p.host = u.host_address();
  if (p.host.empty()) {
    why = fmt::format("URL '{}' has no host", url);
    return std::nullopt;
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(p.host, ec);
  p.ip_literal = !ec;
  bool default_port = !u.has_port();
  p.port = default_port ? (p.tls ? "443" : "80") : std::string(u.port());
  p.target = u.encoded_target().empty() ? "/" : std::string(u.encoded_target());
  if (p.target.front() != '/') p.target.insert(p.target.begin(), '/');
  std::string bracketed =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + p.host + "]" : p.host;
  p.host_header = default_port ? bracketed : bracketed + ":" + p.port;
  p.origin = fmt::format("{}://{}:{}", p.tls ? secure : plain, bracketed, p.port);
  return p;
}

std::string percent_encode(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(v.size());
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace certherd::http
