// The one HTTP(S) client of certherd, on Boost.Beast: connections kept per origin and reused, a
// deadline on every step (resolve, connect, TLS handshake, write, read) and on the whole
// operation, a cap on response bodies, and certificate plus host-name verification on by default
// against a configurable CA bundle.
#pragma once

#include "clients/http/message.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace certherd::http {

struct client_options {
  std::string ca_bundle;  ///< PEM file of trusted roots; empty: the system trust store
  bool verify_peer = true;
  std::chrono::milliseconds step_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds operation_timeout{std::chrono::seconds(60)};
  std::size_t body_limit = 1024 * 1024;
  std::string user_agent = "certherd/0.1";
  std::size_t max_idle_per_origin = 16;
};

/// \brief Why a request produced no response: the underlying error and where it happened
/// ("connect https://host:443: Connection refused").
struct error {
  boost::system::error_code code;
  std::string detail;
};

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

class client {
 public:
  /// \throws std::system_error when the CA bundle cannot be loaded (a configuration error).
  client(boost::asio::any_io_executor executor, client_options options);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// \brief Sends `req` and reads the whole response; any HTTP status is a result, not an error.
  /// \details Completes by `deadline` (or now + operation_timeout, whichever is sooner). A reused
  /// keep-alive connection that turns out closed is replaced once, transparently.
  /// \par Thread safety
  /// Use one client from one thread (the io_context's): the connection pool is not locked.
  boost::asio::awaitable<result<response>> async_request(
      request req, std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt);

  /// \brief Closes every idle pooled connection.
  void close_idle();

  const client_options& options() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace certherd::http
