// The etcd v3 client of certherd, on its HTTP client against the JSON gateway (protocol.hpp):
// kv range/put/delete, txn, lease grant/keep-alive/revoke, and watch with resumption. Every
// endpoint of ETCD_ENDPOINTS is tried in turn: a call goes to the endpoint that answered last and
// moves on when it is unreachable or says it cannot serve (no leader, quorum lost). Every call
// has a deadline. A write whose answer was lost (the request may have been applied) is not sent
// again here: the caller, who knows what it wrote, reads before it writes again.
#pragma once

#include "clients/etcd/protocol.hpp"
#include "clients/http/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certherd::etcd {

using steady = std::chrono::steady_clock;

struct client_options {
  /// Base URLs ("http://127.0.0.1:2379", "https://etcd-1:2379"), tried in this order.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds call_timeout{std::chrono::seconds(5)};
  /// A watch stream that says nothing this long is opened again (etcd sends a progress
  /// notification every 10 minutes by default; a stalled member says nothing at all).
  std::chrono::milliseconds watch_idle_timeout{std::chrono::minutes(11)};
  std::size_t message_limit = 64 * 1024 * 1024;  ///< one watch message (a batch of events)
};

/// \brief Parses ETCD_ENDPOINTS ("http://a:2379,https://b:2379"): each an http or https URL
/// with a host and nothing after the port; fails naming the item that is not.
boost::system::result<std::vector<std::string>, std::string> parse_endpoints(std::string_view text);

/// \brief Why a watch returned.
struct watch_end {
  error why;
  /// When the history from the watch's next revision is compacted: the oldest revision etcd
  /// still has. The caller reads the whole range again and watches from after that read.
  std::int64_t compact_revision = 0;
};

class client {
 public:
  client(http::client& http, client_options options);

  using deadline_t = std::optional<steady::time_point>;

  boost::asio::awaitable<result<range_response>> async_range(range_request r,
                                                             deadline_t deadline = {});
  boost::asio::awaitable<result<put_response>> async_put(put_request r, deadline_t deadline = {});
  boost::asio::awaitable<result<delete_response>> async_delete(delete_request r,
                                                               deadline_t deadline = {});
  boost::asio::awaitable<result<txn_response>> async_txn(txn_request r, deadline_t deadline = {});
  boost::asio::awaitable<result<lease_grant_response>> async_lease_grant(std::chrono::seconds ttl,
                                                                         deadline_t deadline = {});
  /// \brief One keep-alive; a lease that is gone answers ttl 0 (not an error).
  boost::asio::awaitable<result<lease_keepalive_response>> async_lease_keepalive(
      std::int64_t id, deadline_t deadline = {});
  boost::asio::awaitable<result<response_header>> async_lease_revoke(std::int64_t id,
                                                                     deadline_t deadline = {});

  /// \brief Watches `r.key`..`r.range_end` from `r.start_revision`, handing every batch of events
  /// (and progress notifications) to `on_response`, across lost connections and endpoints: each
  /// new stream resumes at the revision after the last one delivered, so no event is missed or
  /// delivered twice. Returns when `on_response` says stop (why: other, empty message), when
  /// the history it needs was compacted, or when the coroutine is cancelled.
  boost::asio::awaitable<watch_end> async_watch(
      watch_request r, std::function<http::stream_step(const watch_response&)> on_response);

  /// \brief The endpoint calls go to now.
  const std::string& endpoint() const noexcept { return options_.endpoints[current_]; }
  /// \brief Requests sent (a watch stream counts once per opening), for metrics and benchmarks.
  std::size_t requests() const noexcept { return requests_; }
  /// \brief Since when etcd has been out of reach: the last call found no member that could
  /// answer (every endpoint failed, or said it has no leader), and none has answered since.
  /// Nullopt while the last attempt reached it. Safe to read from any thread.
  std::optional<std::chrono::system_clock::time_point> unreachable_since() const noexcept;
  /// \brief Watch streams open now (a stream counts from its first message to its end). Safe to
  /// read from any thread.
  int open_watches() const noexcept { return health_->open_watches.load(); }
  const client_options& options() const noexcept { return options_; }

 private:
  boost::asio::awaitable<result<http::response>> async_call(std::string_view path, std::string body,
                                                            deadline_t deadline, bool write);
  void next_endpoint() noexcept;

  http::client& http_;
  client_options options_;
  // Shared with the watch streams' counters: a watch's frame may be destroyed after the client
  // (with its io_context), and its last act is to count itself closed.
  struct health {
    std::atomic<std::int64_t> unreachable_since_ms = 0;  ///< system clock, ms; 0: reachable
    std::atomic<int> open_watches = 0;
    void reached() noexcept { unreachable_since_ms.store(0); }
  };
  void reached() noexcept { health_->reached(); }
  void unreachable() noexcept;

  std::size_t current_ = 0;
  std::atomic<std::size_t> requests_ = 0;
  std::shared_ptr<health> health_ = std::make_shared<health>();
};

}  // namespace certherd::etcd
