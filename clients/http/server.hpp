// certherd's HTTP server, on the controller's own io_context: it serves LISTEN (/healthz,
// /readyz, /metrics, /status, the status page) and the built-in HTTP-01 responder
// (CHALLENGE_LISTEN). It is built to stay out of the controller's way under abuse: a deadline on
// reading each request (a slowloris client is cut off), a cap on header and body sizes, a cap on
// open connections (the oldest idle ones make room), an idle timeout on keep-alive, and a deadline
// on every write.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::http {

/// \brief Reads a listen address ("host:port", "[v6]:port" or ":port" for every IPv4 address).
/// \throws std::system_error naming the address when it is not one.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& listen);

struct server_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string cache_control = "no-store";
  std::vector<std::string> www_authenticate = {};  ///< challenges sent with a 401, one header each
};

struct server_limits {
  std::size_t max_connections = 64;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 1024;  ///< the server takes GETs; a body is noise
  std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};  ///< a whole request
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  ///< between requests
  std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
};

/// \brief What a handler sees of a request.
struct server_request {
  std::string method;         ///< "GET", …
  std::string target;         ///< "/metrics?x"
  std::string authorization;  ///< the Authorization header, when one was sent (a secret)
};

/// \brief Answers one request.
using request_handler = std::function<server_reply(const server_request& request)>;

class server {
 public:
  /// \throws std::system_error (invalid_argument) naming `what` (LISTEN, CHALLENGE_LISTEN) when
  /// the address is not one; std::runtime_error naming it when it cannot be bound.
  server(boost::asio::any_io_executor executor, const std::string& listen, request_handler handler,
         server_limits limits = {}, const std::string& what = "LISTEN");
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  void start();
  void stop();
  unsigned short port() const;
  std::size_t open_connections() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// \brief Serves `input` — the bytes a client sent on one connection — as a connection of
/// server would, with the same parser limits and responses, and returns the bytes it would
/// send back. No socket and no deadlines (an incomplete request is where a connection would wait
/// and time out): the fuzz target's and the unit tests' entry to the server's request handling.
std::string serve_bytes(std::string_view input, const request_handler& handler,
                        const server_limits& limits = {});

}  // namespace certherd::http
