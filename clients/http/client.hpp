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
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace certherd::http {

struct client_options {
  std::string ca_bundle;  ///< PEM file of trusted roots; empty: the system trust store
  /// PEM files of a TLS client certificate (chain) and its key, presented to servers that ask
  /// (etcd with --client-cert-auth); both empty: none.
  std::string client_certificate;
  std::string client_key;
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
  /// Some of the request may have reached the server (the failure came while writing it or
  /// reading the answer): a write must not be repeated blindly. False when no connection was made.
  bool maybe_delivered = false;
};

/// \brief What a streamed response's reader says after each piece of the body.
enum class stream_step { more, stop };

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

  /// \brief Sends `req` on a connection of its own and hands the response body to `on_data` as
  /// it arrives (a long poll, a watch), until the server ends it, `on_data` says stop, nothing
  /// arrives for `idle_timeout`, or the coroutine is cancelled (terminal cancellation). The
  /// status and headers must arrive by `deadline`. A non-2xx answer is read whole (up to
  /// body_limit) and returned without calling `on_data`; otherwise the result is the status.
  /// The connection is never pooled.
  boost::asio::awaitable<result<response>> async_stream(
      request req, std::function<stream_step(std::string_view)> on_data,
      std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds idle_timeout);

  /// \brief Closes every idle pooled connection.
  void close_idle();

  const client_options& options() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace certherd::http
