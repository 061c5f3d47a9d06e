#include "clients/http/server.hpp"

#include "clients/log/log.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>
#include <list>
#include <sstream>
#include <stdexcept>

namespace certherd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

using request_parser = bhttp::request_parser<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

void apply_limits(request_parser& parser, const server_limits& limits) {
  parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
  parser.body_limit(limits.body_limit);
}

// One parsed request to its response: the handler's answer with the headers every answer
// carries. A handler that throws answers 500 and the connection lives on.
response respond(const bhttp::request<bhttp::string_body>& req, const request_handler& handler) {
  server_reply answer;
  try {
    server_request request{std::string(req.method_string()), std::string(req.target()),
                           std::string(req[bhttp::field::authorization])};
    answer = handler(request);
  } catch (const std::exception& e) {
    log::error("http_handler_failed", {{"error", e.what()}});
    answer = {500, "text/plain; charset=utf-8", "internal error\n", "no-store"};
  } catch (...) {
    answer = {500, "text/plain; charset=utf-8", "internal error\n", "no-store"};
  }
  response rsp{static_cast<bhttp::status>(answer.status), req.version()};
  rsp.set(bhttp::field::server, "certherd");
  rsp.set(bhttp::field::content_type, answer.content_type);
  rsp.set(bhttp::field::cache_control, answer.cache_control);
  rsp.set("X-Content-Type-Options", "nosniff");
  for (const auto& challenge : answer.www_authenticate)
    rsp.insert(bhttp::field::www_authenticate, challenge);
  rsp.keep_alive(req.keep_alive());
  if (req.method() != bhttp::verb::head) rsp.body() = std::move(answer.body);
  rsp.prepare_payload();
  return rsp;
}

// What the server sends when it stops reading a request: 431 and 413, then the connection ends.
response refusal(unsigned status, std::string body) {
  response rsp{static_cast<bhttp::status>(status), 11};
  rsp.set(bhttp::field::content_type, "text/plain; charset=utf-8");
  rsp.keep_alive(false);
  rsp.body() = std::move(body);
  rsp.prepare_payload();
  return rsp;
}

constexpr int kRequestsPerConnection = 1000;

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

struct server::impl : std::enable_shared_from_this<impl> {
  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  request_handler handler;
  server_limits limits;
  // Open connections, oldest first; a connection that waits between requests is idle and the
  // first to go when the cap is reached.
  struct connection {
    beast::tcp_stream* stream = nullptr;
    bool idle = true;
  };
  std::list<connection> open;
  bool stopped = false;

  impl(asio::any_io_executor ex, tcp::endpoint at, request_handler h, server_limits l)
      : executor(ex), acceptor(ex), handler(std::move(h)), limits(l) {
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
  }

  // True when a new connection may be served: under the cap, or an idle one was closed for it.
  bool make_room() {
    if (open.size() < limits.max_connections) return true;
    for (auto& c : open) {
      if (c.idle && c.stream) {
        boost::system::error_code ignored;
        c.stream->socket().close(ignored);  // its session ends on its pending read
        c.stream = nullptr;
        return true;
      }
    }
    return false;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
      if (ec) {
        if (ec == asio::error::operation_aborted || stopped) break;
        // e.g. too many open files: the client stays in the backlog, so pause instead of
        // spinning the controller's one thread.
        asio::steady_timer pause(executor, std::chrono::milliseconds(100));
        co_await pause.async_wait(tuple_awaitable);
        continue;
      }
      if (!make_room()) {
        boost::system::error_code ignored;
        socket.close(ignored);  // every connection is busy: refuse rather than queue
        continue;
      }
      asio::co_spawn(executor, session(std::move(socket)), log::log_escaped);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    auto me = open.insert(open.end(), connection{&stream, true});
    // Erased however the session ends, so make_room() and stop() never touch a dead stream.
    struct forget {
      std::list<connection>& open;
      std::list<connection>::iterator me;
      ~forget() { open.erase(me); }
    } guard{open, me};
    beast::flat_buffer buffer(limits.header_limit + limits.body_limit);
    for (int served = 0; served < kRequestsPerConnection && !stopped; ++served) {
      request_parser parser;
      apply_limits(parser, limits);
      // Waiting for a request is idle: such a connection is the first to make room when the cap
      // is reached. The first byte may take the idle time (keep-alive); from then on the whole
      // request — header and body — has one read deadline, so a slowloris client is cut off.
      me->idle = true;
      // A new connection gets the read deadline from its first moment.
      if (served == 0) stream.expires_after(limits.read_timeout);
      if (buffer.size() == 0 && served > 0) {
        stream.expires_after(limits.idle_timeout);
        auto [fec, fn] = co_await stream.async_read_some(buffer.prepare(1024), tuple_awaitable);
        if (fec) break;
        buffer.commit(fn);
        stream.expires_after(limits.read_timeout);
      } else if (served > 0) {
        stream.expires_after(limits.read_timeout);  // a pipelined request is already here
      }
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, tuple_awaitable);
      if (hec) {
        if (hec == bhttp::error::header_limit) {
          co_await reply(stream, 431, "request header too large\n");
        } else if (hec == bhttp::error::body_limit) {  // a Content-Length over the limit
          co_await reply(stream, 413, "body too large\n");
        }
        break;
      }
      me->idle = false;
      auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, tuple_awaitable);
      if (rec) {
        if (rec == bhttp::error::body_limit) co_await reply(stream, 413, "body too large\n");
        break;
      }
      auto rsp = respond(parser.get(), handler);
      stream.expires_after(limits.write_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, rsp, tuple_awaitable);
      if (wec || !rsp.keep_alive()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  asio::awaitable<void> reply(beast::tcp_stream& stream, unsigned status, std::string body) {
    auto rsp = refusal(status, std::move(body));
    stream.expires_after(limits.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, rsp, tuple_awaitable);
    (void)ec;  // the connection closes either way
  }
};

server::server(asio::any_io_executor executor, const std::string& listen, request_handler handler,
               server_limits limits, const std::string& what) {
  tcp::endpoint at;
  try {
    at = parse_listen(listen);
  } catch (const std::system_error& e) {  // still invalid_argument: wrong usage, not a failure
    throw std::system_error(e.code(), fmt::format("{}: {}", what, e.what()));
  }
  try {
    impl_ = std::make_shared<impl>(executor, at, std::move(handler), limits);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(
        fmt::format("{}={}: cannot listen: {}", what, listen, e.code().message()));
  }
}

server::~server() {
  stop();
}

void server::start() {
  asio::co_spawn(impl_->executor, impl_->accept_loop(), log::log_escaped);
}

void server::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  for (auto& c : impl_->open) {
    if (c.stream) c.stream->socket().close(ignored);
  }
}

unsigned short server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

std::size_t server::open_connections() const {
  return impl_->open.size();
}

std::string serve_bytes(std::string_view input, const request_handler& handler,
                        const server_limits& limits) {
  std::ostringstream out;
  for (int served = 0; served < kRequestsPerConnection && !input.empty(); ++served) {
    request_parser parser;
    apply_limits(parser, limits);
    boost::system::error_code ec;
    while (!parser.is_done() && !input.empty()) {
      auto n = parser.put(asio::buffer(input.data(), input.size()), ec);
      input.remove_prefix(n);
      if (ec == bhttp::error::need_more) {
        ec = {};
        if (n == 0) break;  // an incomplete request: a connection would wait, then time out
        continue;
      }
      if (ec) break;
    }
    if (ec == bhttp::error::header_limit) out << refusal(431, "request header too large\n");
    if (ec == bhttp::error::body_limit) out << refusal(413, "body too large\n");
    if (ec || !parser.is_done()) break;  // the session closes the connection
    auto rsp = respond(parser.get(), handler);
    out << rsp;
    if (!rsp.keep_alive()) break;
  }
  return out.str();
}

}  // namespace certherd::http
