#include "clients/http/client.hpp"

#include "clients/http/url.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <map>
#include <variant>

namespace certherd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

using target = url_parts;  // what a request goes to (clients/http/url)

result<target> parse_target(std::string_view url) {
  std::string why;
  auto parts = parse_url(url, url_family::http, why);
  if (!parts) return error{make_error_code(boost::system::errc::invalid_argument), why};
  return std::move(*parts);
}

bhttp::verb to_verb(method m) {
  switch (m) {
    case method::get:
      return bhttp::verb::get;
    case method::head:
      return bhttp::verb::head;
    case method::post:
      return bhttp::verb::post;
    case method::put:
      return bhttp::verb::put;
  }
  return bhttp::verb::get;
}

struct connection {
  using tls_stream = beast::ssl_stream<beast::tcp_stream>;
  std::variant<beast::tcp_stream, tls_stream> stream;
  beast::flat_buffer buffer;
  bool reused = false;

  explicit connection(beast::tcp_stream tcp) : stream(std::move(tcp)) {}

  beast::tcp_stream& lowest() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }
};

}  // namespace

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw boost::system::system_error(e.code, e.detail);
}

struct client::impl {
  asio::any_io_executor executor;
  client_options options;
  ssl::context tls{ssl::context::tls_client};
  std::map<std::string, std::vector<std::unique_ptr<connection>>> idle;

  impl(asio::any_io_executor ex, client_options opts)
      : executor(std::move(ex)), options(std::move(opts)) {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (options.ca_bundle.empty()) {
      tls.set_default_verify_paths();
    } else {
      error_code ec;
      tls.load_verify_file(options.ca_bundle, ec);
      if (ec) {
        throw std::system_error(ec, fmt::format("cannot load CA bundle '{}'", options.ca_bundle));
      }
    }
    if (!options.client_certificate.empty() || !options.client_key.empty()) {
      error_code ec;
      tls.use_certificate_chain_file(options.client_certificate, ec);
      if (ec) {
        throw std::system_error(ec, fmt::format("cannot load the TLS client certificate '{}'",
                                                options.client_certificate));
      }
      // A key that wants a passphrase is refused, not asked for on a terminal. Its contents
      // never reach a message: only its file name.
      tls.set_password_callback(
          [](std::size_t, ssl::context::password_purpose) { return std::string(); });
      tls.use_private_key_file(options.client_key, ssl::context::pem, ec);
      if (ec) {
        throw std::system_error(
            ec, fmt::format("cannot load the TLS client key '{}'", options.client_key));
      }
    }
  }

  steady::time_point step_deadline(steady::time_point deadline) const {
    return std::min(steady::now() + options.step_timeout, deadline);
  }

  error fail(const error_code& ec, std::string_view step, const target& t) const {
    if (ec == beast::error::timeout) {
      return {ec,
              fmt::format("{} {}: timed out (limits: {} ms a step, {} ms in all)", step, t.origin,
                          options.step_timeout.count(), options.operation_timeout.count())};
    }
    if (ec == bhttp::error::body_limit) {
      return {ec, fmt::format("{} {}: response body over {} bytes", step, t.origin,
                              options.body_limit)};
    }
    return {ec, fmt::format("{} {}: {}", step, t.origin, ec.message())};
  }

  std::unique_ptr<connection> take_idle(const std::string& origin) {
    auto it = idle.find(origin);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto conn = std::move(it->second.back());
    it->second.pop_back();
    conn->reused = true;
    return conn;
  }

  void give_back(const std::string& origin, std::unique_ptr<connection> conn) {
    auto& list = idle[origin];
    if (list.size() < options.max_idle_per_origin) {
      conn->lowest().expires_never();
      list.push_back(std::move(conn));
    }
  }

  asio::awaitable<result<std::unique_ptr<connection>>> connect(const target& t,
                                                               const target* address,
                                                               steady::time_point deadline) {
    // getaddrinfo cannot be interrupted; the timer cancels our wait for it at the step deadline.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    asio::steady_timer timer(executor, step_deadline(deadline));
    timer.async_wait([resolver](error_code ec) {
      if (!ec) resolver->cancel();
    });
    const target& to = address ? *address : t;
    auto [rec, endpoints] = co_await resolver->async_resolve(to.host, to.port, tuple_awaitable);
    timer.cancel();
    if (rec == asio::error::operation_aborted) rec = beast::error::timeout;
    if (rec) co_return fail(rec, "resolve", t);

    beast::tcp_stream tcp(executor);
    tcp.expires_at(step_deadline(deadline));
    auto [cec, ep] = co_await tcp.async_connect(endpoints, tuple_awaitable);
    if (cec) co_return fail(cec, "connect", t);
    tcp.socket().set_option(tcp::no_delay(true));
    auto conn = std::make_unique<connection>(std::move(tcp));
    if (!t.tls) co_return conn;

    // Move the TCP stream out first: emplace destroys the current alternative before building.
    beast::tcp_stream plain = std::move(std::get<beast::tcp_stream>(conn->stream));
    auto& s = conn->stream.emplace<connection::tls_stream>(std::move(plain), tls);
    if (!t.ip_literal && !SSL_set_tlsext_host_name(s.native_handle(), t.host.c_str())) {
      co_return error{
          error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
          fmt::format("TLS {}: cannot set SNI", t.origin)};
    }
    if (options.verify_peer) {
      s.set_verify_mode(ssl::verify_peer);
      s.set_verify_callback(ssl::host_name_verification(t.host));
    } else {
      s.set_verify_mode(ssl::verify_none);
    }
    conn->lowest().expires_at(step_deadline(deadline));
    auto [hec] = co_await s.async_handshake(ssl::stream_base::client, tuple_awaitable);
    if (hec) co_return fail(hec, "TLS handshake with", t);
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<error_code> exchange(Stream& stream, connection& conn,
                                       bhttp::request<bhttp::string_body>& msg,
                                       bhttp::response_parser<bhttp::string_body>& parser,
                                       steady::time_point deadline, std::string_view& step) {
    step = "write to";
    conn.lowest().expires_at(step_deadline(deadline));
    auto [wec, written] = co_await bhttp::async_write(stream, msg, tuple_awaitable);
    if (wec) co_return wec;
    step = "read from";
    conn.lowest().expires_at(step_deadline(deadline));
    auto [rec, read] = co_await bhttp::async_read(stream, conn.buffer, parser, tuple_awaitable);
    co_return rec;
  }

  bhttp::request<bhttp::string_body> message_of(http::request& req, const target& t) const {
    bhttp::request<bhttp::string_body> msg{to_verb(req.verb), t.target, 11};
    msg.set(bhttp::field::host, t.host_header);
    msg.set(bhttp::field::user_agent, options.user_agent);
    for (const auto& h : req.headers)
      msg.insert(h.name, h.value);
    if (req.verb == method::post || req.verb == method::put || !req.body.empty()) {
      msg.body() = std::move(req.body);
      msg.prepare_payload();
    }
    msg.keep_alive(true);
    return msg;
  }

  template <class Stream>
  asio::awaitable<result<response>> stream_on(
      Stream& stream, connection& conn, bhttp::request<bhttp::string_body>& msg, const target& t,
      const std::function<stream_step(std::string_view)>& on_data, steady::time_point deadline,
      std::chrono::milliseconds idle_timeout) {
    conn.lowest().expires_at(step_deadline(deadline));
    auto [wec, written] = co_await bhttp::async_write(stream, msg, tuple_awaitable);
    if (wec) {
      auto e = fail(wec, "write to", t);
      e.maybe_delivered = true;
      co_return e;
    }
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);  // a watch never ends by itself
    parser.header_limit(64 * 1024);
    conn.lowest().expires_at(step_deadline(deadline));
    auto [hec, hread] =
        co_await bhttp::async_read_header(stream, conn.buffer, parser, tuple_awaitable);
    if (hec) {
      auto e = fail(hec, "read from", t);
      e.maybe_delivered = true;
      co_return e;
    }
    response out;
    out.status = parser.get().result_int();
    for (const auto& f : parser.get())
      out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    bool success = out.status >= 200 && out.status < 300;
    std::array<char, 16 * 1024> buf{};
    while (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      // Waiting for the next piece of a stream is bounded by the idle timeout alone; an error
      // answer is read by the deadline, as any answer is.
      if (success) {
        conn.lowest().expires_after(idle_timeout);
      } else {
        conn.lowest().expires_at(step_deadline(deadline));
      }
      // read_some: a piece of a stream is handed on as soon as it arrives, not when 16 KiB are.
      auto [rec, n] = co_await bhttp::async_read_some(stream, conn.buffer, parser, tuple_awaitable);
      if (rec == bhttp::error::need_buffer) rec = {};
      std::size_t got = buf.size() - parser.get().body().size;
      if (!success && got) {
        // An error answer is a line or two; a stream's limit is not its limit.
        if (out.body.size() + got > std::min<std::size_t>(options.body_limit, 64 * 1024)) {
          co_return error{bhttp::error::body_limit,
                          fmt::format("read from {}: response body over {} bytes", t.origin,
                                      options.body_limit),
                          true};
        }
        out.body.append(buf.data(), got);
      } else if (got && on_data(std::string_view(buf.data(), got)) == stream_step::stop) {
        co_return out;
      }
      if (rec) {
        auto e = fail(rec, "read from", t);
        e.maybe_delivered = true;
        co_return e;
      }
    }
    co_return out;
  }

  asio::awaitable<result<response>> stream(http::request req,
                                           std::function<stream_step(std::string_view)> on_data,
                                           steady::time_point deadline,
                                           std::chrono::milliseconds idle_timeout) {
    auto parsed = parse_target(req.url);
    if (!parsed) co_return parsed.error();
    const target& t = *parsed;
    auto msg = message_of(req, t);
    auto made = co_await connect(t, nullptr, deadline);
    if (!made) co_return made.error();
    auto conn = std::move(*made);
    co_return co_await std::visit(
        [&](auto& s) { return stream_on(s, *conn, msg, t, on_data, deadline, idle_timeout); },
        conn->stream);
  }

  asio::awaitable<result<response>> perform(http::request req,
                                            std::optional<steady::time_point> deadline_in) {
    auto parsed = parse_target(req.url);
    if (!parsed) co_return parsed.error();
    std::optional<target> address;
    if (!req.connect_to.empty()) {
      auto a = parse_target(std::string(parsed->tls ? "https://" : "http://") + req.connect_to);
      if (!a) co_return a.error();
      address = std::move(*a);
      // Connections are pooled by where they go as well as by the origin they speak for.
      parsed->origin += " via " + address->host_header;
    }
    const target& t = *parsed;
    auto deadline = steady::now() + options.operation_timeout;
    if (deadline_in && *deadline_in < deadline) deadline = *deadline_in;

    auto msg = message_of(req, t);

    for (int attempt = 0;; ++attempt) {
      auto conn = take_idle(t.origin);
      if (!conn) {
        auto made = co_await connect(t, address ? &*address : nullptr, deadline);
        if (!made) co_return made.error();
        conn = std::move(*made);
      }
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.header_limit(64 * 1024);
      if (req.verb == method::head) parser.skip(true);
      std::string_view step;
      error_code ec = co_await std::visit(
          [&](auto& s) { return exchange(s, *conn, msg, parser, deadline, step); }, conn->stream);
      if (ec) {
        // A pooled connection the server already closed fails before any byte of the answer:
        // that is no answer at all, so one fresh connection may repeat the request — unless the
        // server may have acted on it (a POST that is not replay-safe: a create whose answer
        // was lost must be looked up by the caller, never sent twice).
        bool replayable = req.verb != method::post || req.replay_safe;
        if (conn->reused && !parser.got_some() && attempt == 0 && ec != beast::error::timeout &&
            replayable) {
          continue;
        }
        auto e = fail(ec, step, t);
        e.maybe_delivered = true;
        co_return e;
      }
      auto& m = parser.get();
      response out;
      out.status = m.result_int();
      for (const auto& f : m)
        out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
      out.body = std::move(m.body());
      if (parser.keep_alive()) give_back(t.origin, std::move(conn));
      co_return out;
    }
  }
};

client::client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(options))) {}

client::~client() = default;

asio::awaitable<result<response>> client::async_request(
    request req, std::optional<steady::time_point> deadline) {
  return impl_->perform(std::move(req), deadline);
}

asio::awaitable<result<response>> client::async_stream(
    request req, std::function<stream_step(std::string_view)> on_data, steady::time_point deadline,
    std::chrono::milliseconds idle_timeout) {
  return impl_->stream(std::move(req), std::move(on_data), deadline, idle_timeout);
}

void client::close_idle() {
  impl_->idle.clear();
}

const client_options& client::options() const noexcept {
  return impl_->options;
}

}  // namespace certherd::http
