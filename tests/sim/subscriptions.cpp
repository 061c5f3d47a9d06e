// Subscribe websocket of the Rancher 1.x simulator (design/rancher-api.md §A6). Frames use the
// Rancher >= 1.5 envelope (id, name, resourceId, resourceType, data, time; empty keys omitted)
// and, like Cattle's event mapper, do not escape '/'.
#include "tests/sim/subscriptions.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>

namespace certherd::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A client that stops reading is cut off (Cattle's subscribe.max.queued.messages is 100; ours is
// larger so that a burst of hundreds of creates does not disconnect a healthy test client).
constexpr std::size_t max_queued = 10000;

std::string ping_frame() {
  return fmt::format(R"({{"id":"{}","name":"ping","resourceId":null,"resourceType":null,)"
                     R"("data":{{"options":{{}},"resources":[]}},"time":{}}})",
                     random_uuid(), now_epoch_ms());
}

std::string change_frame(const std::string& id, std::string_view type,
                         const std::string& resource) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  kv(w, "id", random_uuid());
  kv(w, "name", "resource.change");
  kv(w, "resourceId", id);
  kv(w, "resourceType", type);
  w.Key("data");
  w.StartObject();
  w.Key("resource");
  w.RawValue(resource.data(), resource.size(), rapidjson::kObjectType);
  w.EndObject();
  kv_int(w, "time", now_epoch_ms());
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace

struct hub::subscriber {
  subscriber(beast::tcp_stream stream, render_context c, bool changes)
      : ws(std::move(stream)),
        ctx(std::move(c)),
        resource_changes(changes),
        wake(ws.get_executor(), asio::steady_timer::time_point::max()),
        ping(ws.get_executor()) {}

  websocket::stream<beast::tcp_stream> ws;
  render_context ctx;
  bool resource_changes;
  std::deque<std::pair<std::string, bool>> out;  // frame, is a resource.change
  asio::steady_timer wake;                       // cancelled when `out` gains a frame
  asio::steady_timer ping;
  bool logout = false;  // close once `out` is written
  bool dead = false;
};

hub::hub(asio::any_io_executor executor, const store& resources, stats& counters,
         std::chrono::milliseconds ping_interval, std::chrono::milliseconds coalesce)
    : executor_(executor),
      store_(resources),
      stats_(counters),
      ping_interval_(ping_interval),
      coalesce_(coalesce),
      flush_timer_(executor) {}

hub::~hub() = default;

asio::awaitable<void> hub::async_serve(beast::tcp_stream stream,
                                       beast::http::request<beast::http::string_body> request,
                                       render_context ctx, bool resource_changes) {
  stream.expires_never();  // the websocket keeps its own timeouts from here on
  auto s = std::make_shared<subscriber>(std::move(stream), std::move(ctx), resource_changes);
  // No idle timeout: Cattle keeps a silent subscriber (one that never pings) connected.
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = websocket::stream_base::none();
  s->ws.set_option(timeouts);
  auto [ec] = co_await s->ws.async_accept(request, use_tuple);
  if (ec) co_return;
  ++stats_.websocket_connects;
  ++stats_.websockets_open;
  // The first frame is a ping (NonBlockingSubscriptionHandler.subscribe), then one per interval;
  // queued before the subscriber can receive any event.
  send(s, ping_frame(), false);
  subscribers_.push_back(s);
  spdlog::info("event=subscribed resource_changes={} open={}", resource_changes,
               stats_.websockets_open);
  asio::co_spawn(executor_, write_loop(s), asio::detached);
  asio::co_spawn(executor_, ping_loop(s), asio::detached);
  beast::flat_buffer buffer;
  for (;;) {
    // Reading is also what answers the client's websocket pings and close frames.
    auto [rec, n] = co_await s->ws.async_read(buffer, use_tuple);
    if (rec) break;
    buffer.consume(n);
  }
  kill(s);
}

void hub::send(const std::shared_ptr<subscriber>& s, std::string frame, bool is_event) {
  if (s->dead || s->logout) return;
  if (s->out.size() >= max_queued) {
    spdlog::warn("event=subscriber_too_slow queued={}", s->out.size());
    kill(s);
    return;
  }
  s->out.emplace_back(std::move(frame), is_event);
  s->wake.cancel();
}

asio::awaitable<void> hub::write_loop(std::shared_ptr<subscriber> s) {
  while (!s->dead) {
    while (!s->out.empty() && !s->dead) {
      auto [frame, is_event] = std::move(s->out.front());
      s->out.pop_front();
      s->ws.text(true);
      auto [ec, n] = co_await s->ws.async_write(asio::buffer(frame), use_tuple);
      if (ec) {
        kill(s);
        co_return;
      }
      if (is_event) ++stats_.events_sent;
    }
    if (s->dead) co_return;
    if (s->logout) {
      // A client that never answers the close frame is cut off after a second.
      auto grace = std::make_shared<asio::steady_timer>(executor_, std::chrono::seconds(1));
      grace->async_wait([this, s, grace](beast::error_code) { kill(s); });
      auto close_reason = websocket::close_reason(websocket::close_code::normal);
      co_await s->ws.async_close(close_reason, use_tuple);
      kill(s);
      co_return;
    }
    co_await s->wake.async_wait(use_tuple);  // aborted = woken
  }
}

asio::awaitable<void> hub::ping_loop(std::shared_ptr<subscriber> s) {
  while (!s->dead) {
    s->ping.expires_after(ping_interval_);
    co_await s->ping.async_wait(use_tuple);
    if (!s->dead) send(s, ping_frame(), false);
  }
}

void hub::kill(const std::shared_ptr<subscriber>& s) {
  if (s->dead) return;
  s->dead = true;
  s->wake.cancel();
  s->ping.cancel();
  beast::error_code ignored;
  beast::get_lowest_layer(s->ws).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(s->ws).socket().close(ignored);
  subscribers_.remove(s);
  --stats_.websockets_open;
  spdlog::info("event=unsubscribed open={}", stats_.websockets_open);
}

void hub::drop_all() {
  auto all = subscribers_;
  for (auto& s : all)
    kill(s);
}

void hub::logout_all() {
  for (auto& s : subscribers_) {
    s->out.emplace_back(R"({"name":"logout"})", false);
    s->logout = true;
    s->wake.cancel();
  }
}

void hub::changed(resource_kind kind, const std::string& id) {
  auto key = std::make_pair(kind, id);
  if (pending_set_.insert(key).second) pending_.push_back(std::move(key));
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // Cattle publishes changes from a task scheduled every second
  // (task.resource.change.publish.schedule=1), not a second after each change: the flush is at the
  // next tick of a fixed period, so a lone change waits between 0 and one period.
  auto now = std::chrono::steady_clock::now();
  auto period =
      std::max<std::chrono::steady_clock::duration>(coalesce_, std::chrono::milliseconds(1));
  auto next = std::chrono::steady_clock::time_point((now.time_since_epoch() / period + 1) * period);
  flush_timer_.expires_at(next);
  flush_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) flush();
  });
}

void hub::flush() {
  flush_scheduled_ = false;
  auto keys = std::move(pending_);
  pending_.clear();
  pending_set_.clear();
  // The resource is read now, at publish time: a snapshot of its latest state, not a diff.
  for (const auto& [kind, id] : keys) {
    std::string type = "certificate";
    if (kind == resource_kind::service) {
      const service_record* s = store_.find_service(id);
      if (!s) continue;
      type = s->kind;
    }
    auto all = subscribers_;
    for (auto& sub : all) {
      if (!sub->resource_changes) continue;
      if (auto resource = store_.render(kind, id, sub->ctx)) {
        send(sub, change_frame(id, type, *resource), true);
      }
    }
  }
}

}  // namespace certherd::sim
