// Plain HTTP request and response values, free of Beast, so that protocol cores (ACME, Rancher)
// can build requests and read responses without any I/O headers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::http {

enum class method { get, head, post, put };

std::string_view to_string(method m) noexcept;

struct header {
  std::string name;
  std::string value;
  friend bool operator==(const header&, const header&) = default;
};

struct request {
  method verb = method::get;
  std::string url;
  std::vector<header> headers;
  std::string body;
  /// A POST the server may safely see twice (an ACME JWS: its nonce makes a replay fail with
  /// badNonce). Only then, or for GET/HEAD/PUT, is a request repeated on a fresh connection when
  /// a pooled one dies before answering — the server may have acted on it already.
  bool replay_safe = false;
  /// "host:port" to connect to instead of the URL's host and port (an HTTP-01 self-check goes
  /// to one address the CA would use, or to SELF_CHECK_ADDRESS); the Host header and TLS SNI
  /// stay the URL's. Empty: the URL's.
  std::string connect_to = {};
};

struct response {
  unsigned status = 0;
  std::vector<header> headers;
  std::string body;

  /// \brief The first header of that name (case-insensitive), if any.
  std::optional<std::string_view> header_value(std::string_view name) const;
  /// \brief Every header of that name (case-insensitive), in order.
  std::vector<std::string_view> header_values(std::string_view name) const;
};

bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace certherd::http
