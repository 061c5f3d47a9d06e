// The in-process HTTP-01 responder: a small Beast server that answers
// GET /.well-known/acme-challenge/<token> with the key authorization, 404 for anything else.
// Limits: 8 KiB of request header, 1 KiB of request body, a read deadline per request, keep-alive
// bounded in requests, and a cap on open connections.
#pragma once

#include "clients/acme/http01.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::acme {

/// \brief Reads a listen address ("host:port", "[v6]:port" or ":port" for every IPv4 address).
/// \throws std::system_error naming the address when it is not one.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& listen);

class http01_responder final : public challenge_presenter {
 public:
  /// \brief Binds `listen` ("host:port", "[v6]:port" or ":port") and starts serving.
  /// \throws std::system_error when the address is invalid or cannot be bound.
  http01_responder(boost::asio::any_io_executor executor, const std::string& listen);
  /// \brief A responder without a server of its own: another server (certherd's LISTEN, when it
  /// is the same address) answers challenge paths through key_authorization().
  explicit http01_responder(boost::asio::any_io_executor executor);

  /// \brief The body for GET `path` ("/.well-known/acme-challenge/<token>"), if presented.
  std::optional<std::string> key_authorization(std::string_view path) const;
  ~http01_responder() override;

  std::error_code present(const present_challenge& c, std::string& detail) override;
  void remove(const remove_challenge& c) override;

  unsigned short port() const noexcept;
  /// \brief Stops accepting and closes open connections.
  void stop();

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace certherd::acme
