// The in-process HTTP-01 responder: answers GET /.well-known/acme-challenge/<token> with the key
// authorization, 404 for anything else — on a server of its own (clients/http/server.hpp, with
// its header, body, time and connection limits), or through another server's handler.
#pragma once

#include "clients/acme/http01.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::acme {

class http01_responder final : public challenge_presenter {
 public:
  /// \brief Binds `listen` ("host:port", "[v6]:port" or ":port") and starts serving.
  /// \throws std::runtime_error naming CHALLENGE_LISTEN when the address is invalid or taken.
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
  static std::optional<std::string> lookup(const state& s, std::string_view path);
  std::shared_ptr<state> state_;
};

}  // namespace certherd::acme
