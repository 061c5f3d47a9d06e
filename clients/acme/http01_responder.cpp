#include "clients/acme/http01_responder.hpp"

#include "clients/http/server.hpp"

#include <map>

namespace certherd::acme {
namespace {

constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

}  // namespace

struct http01_responder::state {
  std::map<std::string, std::string, std::less<>> tokens;
  std::unique_ptr<http::server> server;  // none when another server answers for us
};

http01_responder::http01_responder(boost::asio::any_io_executor executor, const std::string& listen)
    : state_(std::make_shared<state>()) {
  // The server's limits (header and body caps, read deadlines, a connection cap) are the ones of
  // certherd's status server: the CA's validation requests are small GETs.
  std::weak_ptr<state> weak = state_;
  auto answer = [weak](const http::server_request& request) {
    const auto& method = request.method;
    const auto& target = request.target;
    auto self = weak.lock();
    if (method != "GET" && method != "HEAD")
      return http::server_reply{405, "text/plain", "method not allowed\n"};
    std::optional<std::string> body;
    if (self) body = lookup(*self, target);
    return body ? http::server_reply{200, "application/octet-stream", std::move(*body)}
                : http::server_reply{404, "text/plain", "not found\n"};
  };
  state_->server = std::make_unique<http::server>(executor, listen, std::move(answer),
                                                  http::server_limits{}, "CHALLENGE_LISTEN");
  state_->server->start();
}

http01_responder::http01_responder(boost::asio::any_io_executor)
    : state_(std::make_shared<state>()) {}

http01_responder::~http01_responder() {
  stop();
}

std::optional<std::string> http01_responder::lookup(const state& s, std::string_view path) {
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.starts_with(kPrefix)) return std::nullopt;
  auto it = s.tokens.find(path.substr(kPrefix.size()));
  if (it == s.tokens.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> http01_responder::key_authorization(std::string_view path) const {
  return lookup(*state_, path);
}

std::error_code http01_responder::present(const present_challenge& c, std::string& detail) {
  if (!is_safe_token(c.token)) {
    detail = "the CA sent a token with characters outside base64url";
    return std::make_error_code(std::errc::invalid_argument);
  }
  state_->tokens[c.token] = c.key_authorization;
  return {};
}

void http01_responder::remove(const remove_challenge& c) {
  state_->tokens.erase(c.token);
}

unsigned short http01_responder::port() const noexcept {
  return state_->server ? state_->server->port() : 0;
}

void http01_responder::stop() {
  if (state_->server) state_->server->stop();
}

}  // namespace certherd::acme
