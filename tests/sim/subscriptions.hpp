// The subscribe websocket of the simulator standing in for Rancher 1.x (design/rancher-api.md §A6):
// a ping first and then every ping interval, and resource.change frames carrying the resource as
// GET renders it, coalesced per (type, id) and published after the coalescing delay, as Cattle's
// 1-second publish task does. Test knobs close every socket abruptly or after a logout frame.
#pragma once

#include "tests/sim/model.hpp"
#include "tests/sim/stats.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <set>
#include <utility>

namespace certherd::sim {

class hub {
 public:
  hub(boost::asio::any_io_executor executor, const store& resources, stats& counters,
      std::chrono::milliseconds ping_interval, std::chrono::milliseconds coalesce);
  ~hub();

  /// \brief Completes the upgrade `request` on `stream` and serves the subscriber until it
  /// leaves. `resource_changes` is false when eventNames does not ask for resource.change.
  boost::asio::awaitable<void> async_serve(
      boost::beast::tcp_stream stream,
      boost::beast::http::request<boost::beast::http::string_body> request, render_context ctx,
      bool resource_changes);

  /// \brief A resource changed: publish its state after the coalescing delay.
  void changed(resource_kind kind, const std::string& id);
  /// \brief Closes every subscriber's TCP connection now, without a close frame.
  void drop_all();
  /// \brief Sends {"name":"logout"} to every subscriber, then closes each socket.
  void logout_all();

 private:
  struct subscriber;
  boost::asio::awaitable<void> write_loop(std::shared_ptr<subscriber> s);
  boost::asio::awaitable<void> ping_loop(std::shared_ptr<subscriber> s);
  void send(const std::shared_ptr<subscriber>& s, std::string frame, bool is_event);
  void kill(const std::shared_ptr<subscriber>& s);
  void flush();

  boost::asio::any_io_executor executor_;
  const store& store_;
  stats& stats_;
  std::chrono::milliseconds ping_interval_;
  std::chrono::milliseconds coalesce_;
  std::list<std::shared_ptr<subscriber>> subscribers_;
  std::vector<std::pair<resource_kind, std::string>> pending_;  // in order of first change
  std::set<std::pair<resource_kind, std::string>> pending_set_;
  boost::asio::steady_timer flush_timer_;
  bool flush_scheduled_ = false;
};

}  // namespace certherd::sim
