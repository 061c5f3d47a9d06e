#include "clients/rancher/subscriber.hpp"

#include "clients/http/url.hpp"
#include "clients/rancher/reconnect.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <random>

namespace certherd::rancher {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

using endpoint = http::url_parts;  // ws:// or wss:// (clients/http/url)

std::optional<endpoint> parse_ws(const std::string& url) {
  std::string why;
  return http::parse_url(url, http::url_family::websocket, why);
}

}  // namespace

std::string_view to_string(subscriber_state s) noexcept {
  switch (s) {
    case subscriber_state::idle:
      return "idle";
    case subscriber_state::connecting:
      return "connecting";
    case subscriber_state::connected:
      return "connected";
    case subscriber_state::waiting:
      return "waiting";
  }
  return "?";
}

struct subscriber::impl : std::enable_shared_from_this<impl> {
  asio::any_io_executor executor;
  subscriber_options options;
  subscriber_handlers handlers;
  ssl::context tls{ssl::context::tls_client};
  subscriber_state state = subscriber_state::idle;
  std::size_t connects = 0;
  std::size_t frames = 0;
  bool stopped = false;
  bool renewing = false;         // the current session is being renewed, not lost
  std::uint64_t session_id = 0;  // which session a renewal timer belongs to
  std::function<void()> abort;   // closes the current socket, if any
  asio::steady_timer pause;
  std::mt19937 rng{std::random_device{}()};

  impl(asio::any_io_executor ex, subscriber_options o, subscriber_handlers h)
      : executor(ex), options(std::move(o)), handlers(std::move(h)), pause(ex) {
    if (options.ca_bundle.empty()) {
      tls.set_default_verify_paths();
    } else {
      tls.load_verify_file(options.ca_bundle);  // throws: a configuration error at start-up
    }
  }

  void disconnected(const std::string& reason) {
    if (handlers.disconnected) handlers.disconnected(reason);
  }

  struct ended {
    std::string reason;  ///< for people
    session_end how = session_end::not_connected;
    std::chrono::milliseconds ran{0};
  };

  // Runs one subscription until it ends; says why and how long it ran.
  template <class Stream>
  asio::awaitable<ended> session(Stream& ws, const endpoint& e) {
    auto& lowest = beast::get_lowest_layer(ws);
    std::weak_ptr<impl> weak = weak_from_this();
    abort = [&lowest] {
      error_code ignored;
      lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest.socket().close(ignored);
    };
    // Proactive renewal: the server ends a subscription after ~12 h (8640 pings). The handler
    // touches nothing of this frame: it may run after the session is over, hence the id check.
    const std::uint64_t id = ++session_id;
    renewing = false;
    asio::steady_timer renew(executor, options.max_session);
    renew.async_wait([id, weak](error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->session_id != id || !self->abort) return;
      self->renewing = true;
      self->abort();
    });

    websocket::response_type answer;
    lowest.expires_never();  // websocket timeouts take over from here
    websocket::stream_base::timeout t;
    t.handshake_timeout = options.connect_timeout;
    t.idle_timeout = options.idle_timeout;
    t.keep_alive_pings = true;  // a ping at half the idle time; no answer by the end: closed
    ws.set_option(t);
    std::string auth = options.authorization;
    ws.set_option(websocket::stream_base::decorator([auth](websocket::request_type& req) {
      req.set(beast::http::field::authorization, auth);
      req.set(beast::http::field::user_agent, "certherd/0.1");
    }));
    ws.read_message_max(options.frame_limit);
    auto [hec] = co_await ws.async_handshake(answer, e.host_header, e.target, tuple_awaitable);
    if (hec) {
      renew.cancel();
      if (hec == websocket::error::upgrade_declined) {
        co_return ended{fmt::format("upgrade refused with HTTP {}", answer.result_int()),
                        session_end::not_connected};
      }
      co_return ended{fmt::format("websocket handshake: {}", hec.message()),
                      session_end::not_connected};
    }
    ++connects;
    state = subscriber_state::connected;
    const auto began = std::chrono::steady_clock::now();
    if (handlers.connected && !stopped) handlers.connected();
    beast::flat_buffer buffer;
    std::string reason;
    session_end how = session_end::dropped;
    while (!stopped) {
      buffer.clear();
      auto [rec, n] = co_await ws.async_read(buffer, tuple_awaitable);
      if (rec) {
        if (renewing) how = session_end::renewal;
        reason = renewing ? "renewing the subscription before the server's 12 h limit"
                 : rec == beast::error::timeout    ? "no frame or pong within the idle timeout"
                 : rec == websocket::error::closed ? "closed by Rancher"
                                                   : "read: " + rec.message();
        break;
      }
      ++frames;
      auto ev = decode_event(beast::buffers_to_string(buffer.data()));
      if (!ev) {
        if (handlers.bad_frame) handlers.bad_frame(ev.error().message);
        continue;
      }
      bool logout = ev->what == event::kind::logout;
      if (handlers.received && !stopped) handlers.received(std::move(*ev));
      if (logout) {
        how = session_end::logout;
        reason = "logout from Rancher";
        websocket::close_reason normal(websocket::close_code::normal);
        auto [cec] = co_await ws.async_close(normal, tuple_awaitable);
        (void)cec;  // the socket is dropped either way
        break;
      }
    }
    renew.cancel();
    ++session_id;  // a renewal timer that already fired now finds another id and does nothing
    auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    co_return ended{reason.empty() ? std::string("stopped") : reason, how, ran};
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    auto e = parse_ws(options.url);
    reconnect_policy policy(options.backoff_min, options.backoff_max);
    while (!stopped) {
      state = subscriber_state::connecting;
      ended end;
      std::string& reason = end.reason;
      if (!e) {
        reason = "subscribe URL is not ws:// or wss://";
      } else {
        tcp::resolver resolver(executor);
        asio::steady_timer guard(executor, options.connect_timeout);
        guard.async_wait([&resolver](error_code ec) {
          if (!ec) resolver.cancel();
        });
        auto [rec, endpoints] = co_await resolver.async_resolve(e->host, e->port, tuple_awaitable);
        guard.cancel();
        if (rec) {
          reason = "resolve " + e->host + ": " + rec.message();
        } else {
          beast::tcp_stream tcp(executor);
          tcp.expires_after(options.connect_timeout);
          auto [cec, ep] = co_await tcp.async_connect(endpoints, tuple_awaitable);
          if (cec) {
            reason = fmt::format("connect {}:{}: {}", e->host, e->port, cec.message());
          } else if (!e->tls) {
            websocket::stream<beast::tcp_stream> ws(std::move(tcp));
            end = co_await session(ws, *e);
          } else {
            websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(std::move(tcp), tls);
            auto& s = ws.next_layer();
            SSL_set_tlsext_host_name(s.native_handle(), e->host.c_str());
            s.set_verify_mode(ssl::verify_peer);
            s.set_verify_callback(ssl::host_name_verification(e->host));
            beast::get_lowest_layer(ws).expires_after(options.connect_timeout);
            auto [hec] = co_await s.async_handshake(ssl::stream_base::client, tuple_awaitable);
            if (hec) {
              reason = "TLS handshake: " + hec.message();
            } else {
              end = co_await session(ws, *e);
            }
          }
        }
      }
      abort = nullptr;
      if (stopped) break;
      disconnected(reason);
      state = subscriber_state::waiting;
      pause.expires_after(policy.next(end.how, end.ran, rng()));
      auto [pec] = co_await pause.async_wait(tuple_awaitable);
      (void)pec;  // cancelled by stop(): the loop condition ends it
    }
    state = subscriber_state::idle;
  }
};

subscriber::subscriber(asio::any_io_executor executor, subscriber_options options,
                       subscriber_handlers handlers)
    : impl_(std::make_shared<impl>(executor, std::move(options), std::move(handlers))) {}

subscriber::~subscriber() {
  stop();
}

void subscriber::start() {
  auto on_exit = impl_->handlers.disconnected;
  asio::co_spawn(impl_->executor, impl_->run(), [on_exit](std::exception_ptr e) {
    if (!e) return;
    // Never silently: an escaped exception ends the subscription, so say so.
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      if (on_exit) on_exit(std::string("subscriber stopped by an error: ") + x.what());
    }
  });
}

void subscriber::stop() {
  impl_->stopped = true;
  impl_->pause.cancel();
  if (impl_->abort) impl_->abort();
}

subscriber_state subscriber::state() const noexcept {
  return impl_->state;
}
std::size_t subscriber::connects() const noexcept {
  return impl_->connects;
}
std::size_t subscriber::frames() const noexcept {
  return impl_->frames;
}

}  // namespace certherd::rancher
