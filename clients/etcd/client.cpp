#include "clients/etcd/client.hpp"

#include "clients/http/url.hpp"
#include "pki/names.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>

namespace certherd::etcd {
namespace {

namespace asio = boost::asio;

// gRPC metadata through the gateway ("hasleader", as etcd's own client's WithRequireLeader):
// a member that has lost its leader refuses a call at once rather than letting it wait out the
// deadline, and ends a watch stream rather than holding it open and silent while the cluster
// goes on without it, so the client moves to a member that is part of the cluster.
const http::header kRequireLeader{"Grpc-Metadata-Hasleader", "true"};

error from_http(const http::error& e) {
  return {errc::transport, 0, "etcd " + e.detail, e.maybe_delivered};
}

template <class T>
result<T> decoded(const result<http::response>& answer, result<T> (*decode)(std::string_view)) {
  if (!answer) return answer.error();
  return decode(answer->body);
}

}  // namespace

boost::system::result<std::vector<std::string>, std::string> parse_endpoints(
    std::string_view text) {
  std::vector<std::string> out;
  for (auto item : pki::split_list(text)) {
    item = pki::trim(item);
    while (!item.empty() && item.back() == '/')
      item.remove_suffix(1);
    if (!item.empty()) {
      std::string why;
      auto parts = http::parse_url(item, http::url_family::http, why);
      if (!parts) return why;
      if (parts->target != "/") {
        return fmt::format("'{}' has a path; an endpoint is scheme://host:port", item);
      }
      std::string base = parts->origin;
      if (std::find(out.begin(), out.end(), base) == out.end()) out.push_back(base);
    }
  }
  if (out.empty()) return std::string("no endpoint (a comma-separated list of http(s) URLs)");
  return out;
}

client::client(http::client& http, client_options options)
    : http_(http), options_(std::move(options)) {
  if (options_.endpoints.empty()) throw std::invalid_argument("etcd client without endpoints");
}

std::optional<std::chrono::system_clock::time_point> client::unreachable_since() const noexcept {
  auto ms = health_->unreachable_since_ms.load();
  if (ms == 0) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

void client::unreachable() noexcept {
  std::int64_t none = 0;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  health_->unreachable_since_ms.compare_exchange_strong(none, std::max<std::int64_t>(now, 1));
}

void client::next_endpoint() noexcept {
  current_ = (current_ + 1) % options_.endpoints.size();
}

asio::awaitable<result<http::response>> client::async_call(std::string_view path, std::string body,
                                                           deadline_t deadline_in, bool write) {
  auto deadline = steady::now() + options_.call_timeout;
  if (deadline_in && *deadline_in < deadline) deadline = *deadline_in;
  std::optional<error> last;
  for (std::size_t tried = 0; tried < options_.endpoints.size(); ++tried) {
    if (steady::now() >= deadline) break;
    http::request req;
    req.verb = http::method::post;
    req.url = endpoint() + std::string(path);
    req.headers.push_back({"Content-Type", "application/json"});
    req.headers.push_back(kRequireLeader);
    req.body = body;
    // A read may be asked again on a fresh connection; a write is the caller's to repeat.
    req.replay_safe = !write;
    ++requests_;
    auto answer = co_await http_.async_request(std::move(req), deadline);
    if (!answer) {
      last = from_http(answer.error());
      next_endpoint();
      // Never twice, maybe applied. One member failing is no news of the cluster: the mark
      // is left to calls that find no member at all.
      if (write && last->maybe_applied) co_return *last;
      continue;
    }
    auto refused = error_of(answer->status, answer->body, endpoint() + std::string(path));
    if (!refused) {
      reached();
      co_return std::move(*answer);
    }
    last = std::move(*refused);
    // Anything but unavailable is the request's fault (etcd answered). Unavailable: another
    // member may have a leader (or be up) — a read asks it now, a write is the caller's to
    // repeat (it may have been applied), and goes there next time.
    if (last->code != errc::unavailable) {
      reached();
      co_return *last;
    }
    next_endpoint();
    if (write && last->maybe_applied) co_return *last;
  }
  unreachable();
  if (!last) {
    co_return error{errc::transport, 0,
                    fmt::format("etcd: no endpoint answered before the deadline ({} tried)",
                                options_.endpoints.size()),
                    false};
  }
  co_return *last;
}

asio::awaitable<result<range_response>> client::async_range(range_request r, deadline_t deadline) {
  auto answer = co_await async_call("/v3/kv/range", encode(r), deadline, false);
  co_return decoded(answer, &decode_range);
}

asio::awaitable<result<put_response>> client::async_put(put_request r, deadline_t deadline) {
  auto answer = co_await async_call("/v3/kv/put", encode(r), deadline, true);
  co_return decoded(answer, &decode_put);
}

asio::awaitable<result<delete_response>> client::async_delete(delete_request r,
                                                              deadline_t deadline) {
  auto answer = co_await async_call("/v3/kv/deleterange", encode(r), deadline, true);
  co_return decoded(answer, &decode_delete);
}

asio::awaitable<result<txn_response>> client::async_txn(txn_request r, deadline_t deadline) {
  bool writes = false;
  for (const auto* ops : {&r.success, &r.failure}) {
    for (const auto& op : *ops)
      writes = writes || !std::holds_alternative<range_request>(op);
  }
  auto answer = co_await async_call("/v3/kv/txn", encode(r), deadline, writes);
  co_return decoded(answer, &decode_txn);
}

asio::awaitable<result<lease_grant_response>> client::async_lease_grant(std::chrono::seconds ttl,
                                                                        deadline_t deadline) {
  // A grant whose answer was lost leaves a lease nobody keeps alive: it expires by itself.
  auto answer =
      co_await async_call("/v3/lease/grant", encode_lease_grant(ttl.count()), deadline, false);
  co_return decoded(answer, &decode_lease_grant);
}

asio::awaitable<result<lease_keepalive_response>> client::async_lease_keepalive(
    std::int64_t id, deadline_t deadline) {
  auto answer = co_await async_call("/v3/lease/keepalive", encode_lease_id(id), deadline, false);
  if (!answer) co_return answer.error();
  // The gateway answers the bidirectional stream with one message per request.
  message_splitter split(1024 * 1024);
  auto messages = split.feed(answer->body + "\n");
  if (!messages) co_return messages.error();
  if (messages->empty())
    co_return error{errc::bad_answer, 0, "etcd lease keep-alive: empty", false};
  co_return decode_lease_keepalive(messages->front());
}

asio::awaitable<result<response_header>> client::async_lease_revoke(std::int64_t id,
                                                                    deadline_t deadline) {
  auto answer = co_await async_call("/v3/lease/revoke", encode_lease_id(id), deadline, false);
  co_return decoded(answer, &decode_header_only);
}

asio::awaitable<watch_end> client::async_watch(
    watch_request r, std::function<http::stream_step(const watch_response&)> on_response) {
  auto executor = co_await asio::this_coro::executor;
  std::mt19937_64 rng{std::random_device{}()};
  auto pause = std::chrono::milliseconds(200);
  error last{errc::transport, 0, "", false};
  for (;;) {
    bool stopped = false;
    bool delivered = false;
    // Counted open from the stream's first message until it ends, however it ends; every
    // message says etcd is reachable.
    struct open_count {
      std::shared_ptr<health> h;
      bool open = false;
      void message() {
        h->reached();
        if (open) return;
        open = true;
        ++h->open_watches;
      }
      void closed() {
        if (open) --h->open_watches;
        open = false;
      }
      ~open_count() { closed(); }
    } stream{health_};
    std::optional<watch_end> ended;
    message_splitter split(options_.message_limit);
    auto on_data = [&](std::string_view data) {
      auto messages = split.feed(data);
      if (!messages) {
        last = messages.error();
        return http::stream_step::stop;
      }
      for (const auto& m : *messages) {
        auto resp = decode_watch(m);
        if (!resp) {
          last = resp.error();
          return http::stream_step::stop;
        }
        stream.message();
        if (resp->created && r.start_revision == 0) {
          // "From now on": now is the revision the watch was created at, kept for a resumption.
          r.start_revision = resp->header.revision + 1;
        }
        if (resp->canceled) {
          if (resp->compact_revision > 0) {
            ended = watch_end{{errc::compacted, 11,
                               fmt::format("etcd watch: history before revision {} is compacted",
                                           resp->compact_revision),
                               false},
                              resp->compact_revision};
          } else {
            // Refused (permission, a bad range): asking again would be refused again.
            ended = watch_end{
                {errc::other, 0, "etcd watch cancelled: " + resp->cancel_reason, false}, 0};
          }
          return http::stream_step::stop;
        }
        delivered = true;
        // Resume after what was delivered: the last event's revision, or for a progress
        // notification (no events) the revision it says everything up to has been sent.
        std::int64_t seen = resp->events.empty() ? (resp->created ? 0 : resp->header.revision)
                                                 : resp->events.back().kv.mod_revision;
        if (seen >= r.start_revision) r.start_revision = seen + 1;
        if (on_response(*resp) == http::stream_step::stop) {
          stopped = true;
          return http::stream_step::stop;
        }
      }
      return http::stream_step::more;
    };
    http::request req;
    req.verb = http::method::post;
    req.url = endpoint() + "/v3/watch";
    req.headers.push_back({"Content-Type", "application/json"});
    req.headers.push_back(kRequireLeader);
    req.body = encode(r);
    ++requests_;
    auto answer =
        co_await http_.async_stream(std::move(req), on_data, steady::now() + options_.call_timeout,
                                    options_.watch_idle_timeout);
    bool was_open = stream.open;
    stream.closed();
    if (stopped) co_return watch_end{{errc::other, 0, "", false}, 0};
    if (ended) co_return *ended;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return watch_end{{errc::transport, 0, "etcd watch: cancelled", false}, 0};
    }
    if (!answer) {
      last = from_http(answer.error());
      if (!was_open) unreachable();
    } else if (auto refused = error_of(answer->status, answer->body, endpoint() + "/v3/watch")) {
      last = std::move(*refused);
      if (last.code == errc::compacted) co_return watch_end{last, 0};
      if (last.code == errc::unavailable) unreachable();
    }
    // Another endpoint, after a pause that grows while nothing is delivered (jittered).
    next_endpoint();
    if (delivered) pause = std::chrono::milliseconds(200);
    auto jitter = std::chrono::milliseconds(rng() % (pause.count() / 2 + 1));
    asio::steady_timer timer(executor, pause + jitter);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return watch_end{{errc::transport, 0, "etcd watch: cancelled", false}, 0};
    pause = std::min(pause * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace certherd::etcd
