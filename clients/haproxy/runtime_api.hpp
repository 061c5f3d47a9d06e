// HAProxy's runtime API (the "stats socket" at level admin) for certificates, HAProxy ≥ 2.2:
// `show ssl cert`, `new ssl cert`, `set ssl cert <<payload`, `commit`/`abort ssl cert`, and
// `add ssl crt-list`. One command per connection, each bounded by a deadline. The parsing of the
// answers is pure (parse_cert_info, is_success) and tested without a socket.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::haproxy {

/// \brief Why a command got no usable answer, in one line.
struct error {
  std::string message;
};

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// \brief What `show ssl cert <file>` says of a certificate HAProxy holds.
struct cert_info {
  std::string serial;  ///< upper-case hex, as HAProxy prints it
  std::string sha1;    ///< lower-case hex
  std::string not_after;
};

/// \brief nullopt when HAProxy does not know the file ("Not found").
std::optional<cert_info> parse_cert_info(std::string_view answer);

/// \brief True when a set/commit/add answer ends in HAProxy's "Success!" or names a transaction.
bool is_success(std::string_view answer);

/// \brief True when HAProxy refused because another certificate operation holds its lock.
bool is_locked(std::string_view answer);

/// \brief True when a crt-list listing (`show ssl crt-list <list>`) names `file`.
bool crt_list_has(std::string_view listing, std::string_view file);

/// \brief True when `word` can stand as one argument of a runtime-API command: not empty, no
/// white space or control character (they split words and lines), no ';' (it separates
/// commands), no '\\' or '#' (escape, comment).
bool is_cli_word(std::string_view word) noexcept;

/// \brief `set ssl cert <file> <<` with the payload; refuses a file that is not one CLI word and a
/// payload with an empty line (even one holding only '\\r'), which would end the payload early.
result<std::string> set_cert_command(std::string_view file, std::string_view pem);

class runtime_api {
 public:
  runtime_api(boost::asio::any_io_executor executor, std::string socket_path,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// \brief Sends one command (a trailing newline is added when missing) and returns the answer.
  /// While HAProxy answers that certificate operations are locked, it tries again (every 50 ms,
  /// within the timeout).
  boost::asio::awaitable<result<std::string>> async_command(std::string command);

  const std::string& socket_path() const noexcept { return socket_path_; }

 private:
  boost::asio::awaitable<result<std::string>> exchange(std::string command);

  boost::asio::any_io_executor executor_;
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace certherd::haproxy
