#include "clients/acme/http01_responder.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <set>

namespace certherd::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
constexpr std::size_t kMaxConnections = 256;
constexpr int kMaxRequestsPerConnection = 100;
constexpr auto kReadTimeout = std::chrono::seconds(10);

void log_escaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("event=http01_responder_failure error=\"{}\"", x.what());
  }
}

}  // namespace

asio::ip::tcp::endpoint parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            fmt::format("listen address '{}' needs host:port", listen));
  }
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  boost::system::error_code aec;
  auto address = asio::ip::make_address(host, aec);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535 || aec) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            fmt::format("listen address '{}' is not IP:port", listen));
  }
  return {address, static_cast<unsigned short>(port)};
}

struct http01_responder::state : std::enable_shared_from_this<state> {
  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  std::map<std::string, std::string, std::less<>> tokens;
  std::set<std::shared_ptr<beast::tcp_stream>> connections;

  explicit state(asio::any_io_executor ex) : executor(ex), acceptor(ex) {}
  state(asio::any_io_executor ex, const tcp::endpoint& ep) : executor(ex), acceptor(ex) {
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  }

  bhttp::response<bhttp::string_body> answer(const bhttp::request<bhttp::string_body>& req) const {
    bhttp::response<bhttp::string_body> res;
    res.version(req.version());
    res.set(bhttp::field::server, "certherd");
    std::string_view target = req.target();
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    bool readable = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
    auto it =
        target.starts_with(kPrefix) ? tokens.find(target.substr(kPrefix.size())) : tokens.end();
    if (readable && it != tokens.end()) {
      res.result(bhttp::status::ok);
      res.set(bhttp::field::content_type, "application/octet-stream");
      res.body() = it->second;
    } else {
      res.result(readable ? bhttp::status::not_found : bhttp::status::method_not_allowed);
      res.set(bhttp::field::content_type, "text/plain");
      res.body() = readable ? "not found\n" : "method not allowed\n";
    }
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == bhttp::verb::head) res.body().clear();
    return res;
  }

  asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    for (int i = 0; i < kMaxRequestsPerConnection; ++i) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(8 * 1024);
      parser.body_limit(1024);  // challenge requests carry no body; tolerate a small one
      stream->expires_after(kReadTimeout);
      auto [ec, n] = co_await bhttp::async_read(*stream, buffer, parser, tuple_awaitable);
      if (ec) break;
      auto res = answer(parser.get());
      stream->expires_after(kReadTimeout);
      auto [wec, w] = co_await bhttp::async_write(*stream, res, tuple_awaitable);
      if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream->close();
    connections.erase(stream);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      if (ec) continue;
      if (connections.size() >= kMaxConnections) continue;  // socket closes as it goes out of scope
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      connections.insert(stream);
      asio::co_spawn(executor, serve(stream), log_escaped);
    }
  }
};

http01_responder::http01_responder(asio::any_io_executor executor, const std::string& listen)
    : state_(std::make_shared<state>(executor, parse_listen(listen))) {
  asio::co_spawn(state_->executor, state_->accept_loop(), log_escaped);
}

http01_responder::http01_responder(asio::any_io_executor executor)
    : state_(std::make_shared<state>(executor)) {}

std::optional<std::string> http01_responder::key_authorization(std::string_view path) const {
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.starts_with(kPrefix)) return std::nullopt;
  auto it = state_->tokens.find(path.substr(kPrefix.size()));
  if (it == state_->tokens.end()) return std::nullopt;
  return it->second;
}

http01_responder::~http01_responder() {
  stop();
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
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

void http01_responder::stop() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  for (const auto& c : state_->connections)
    c->socket().close(ignored);
}

}  // namespace certherd::acme
