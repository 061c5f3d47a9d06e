// The Rancher event websocket (design/rancher-api.md §A6): `…/projects/{id}/subscribe?eventNames=
// resource.change` with Basic auth on the upgrade. Frames are decoded by decode_event and handed
// to the caller. The connection is watched: Rancher pings every 5 s, and when nothing arrives for
// half the idle timeout a websocket ping goes out; with no answer by the full idle timeout the
// socket is dropped. Every drop, logout or refused upgrade leads to a reconnect after a backoff
// with jitter; the session is also renewed before the server's ~12 h subscription limit. Rancher
// keeps no replay log, so after every (re)connect the caller is told to list everything again.
#pragma once

#include "clients/rancher/resources.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace certherd::rancher {

struct subscriber_options {
  std::string url;            ///< ws:// or wss:// (rancher::subscribe_url)
  std::string authorization;  ///< "Basic …": secret, never logged
  std::string ca_bundle;      ///< for wss; empty: the system trust store
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(15)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(20)};
  std::chrono::milliseconds max_session{std::chrono::hours(11)};  ///< renewed before 12 h
  std::chrono::milliseconds backoff_min{std::chrono::milliseconds(500)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(30)};
  std::size_t frame_limit = 8 * 1024 * 1024;
};

struct subscriber_handlers {
  std::function<void()> connected;  ///< subscribed: list everything now, then apply events
  std::function<void(event)> received;
  std::function<void(const std::string& reason)> disconnected;
  std::function<void(const std::string& problem)> bad_frame;  ///< a frame that did not decode
};

enum class subscriber_state { idle, connecting, connected, waiting };
std::string_view to_string(subscriber_state s) noexcept;

class subscriber {
 public:
  subscriber(boost::asio::any_io_executor executor, subscriber_options options,
             subscriber_handlers handlers);
  ~subscriber();
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  void start();
  /// \brief Closes the socket and stops reconnecting.
  void stop();

  subscriber_state state() const noexcept;
  std::size_t connects() const noexcept;
  std::size_t frames() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace certherd::rancher
