// One parser for the URLs certherd connects to: http(s) for the HTTP client, ws(s) for the
// Rancher event websocket. What a connection needs: TLS or not, the host (IPv6 without brackets),
// the port (the scheme's default when none is given), the request target, the Host header as it
// is sent (brackets and a non-default port kept), and the origin connections are pooled by.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace certherd::http {

enum class url_family { http, websocket };

struct url_parts {
  bool tls = false;
  bool ip_literal = false;
  std::string host;         ///< without IPv6 brackets
  std::string port;         ///< always set
  std::string target;       ///< origin-form request target, at least "/"
  std::string host_header;  ///< host[:port] as sent
  std::string origin;       ///< scheme://host:port, the pool key
};

/// \brief Parses `url` of the family's schemes (http/https or ws/wss); nullopt with `why` set
/// (naming the URL) for anything else.
std::optional<url_parts> parse_url(std::string_view url, url_family family, std::string& why);

/// \brief `v` for a URL's query or path: unreserved characters (RFC 3986: letters, digits,
/// - . _ ~) as they are, every other byte %-escaped.
std::string percent_encode(std::string_view v);

}  // namespace certherd::http
