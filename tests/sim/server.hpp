// The HTTP side of the simulator that stands in for a Rancher 1.x (Cattle) server: Basic auth
// with an environment API key (design/rancher-api.md §A1), the v1 / v2-beta routes with and without the
// /projects/{id} prefix (§A2), certificates (§A3), services and load balancers (§A4, §A5), the
// subscribe upgrade (§A6), Cattle's errors (§A7) — and, under /_sim/ without auth, the control
// and fault-injection API the integration tests drive it with.
#pragma once

#include "tests/sim/lb_standin.hpp"
#include "tests/sim/model.hpp"
#include "tests/sim/stats.hpp"
#include "tests/sim/subscriptions.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace certherd::sim {

struct server_options {
  std::string access_key;
  std::string secret_key;
  std::chrono::milliseconds transition{300};      ///< how long each process state lasts
  std::chrono::milliseconds read_timeout{30000};  ///< per request, keep-alive idle included
  std::string schemas;  ///< the body of a real GET /v2-beta/schemas (its host is rewritten)
};

class server {
 public:
  server(boost::asio::io_context& ioc, server_options options, store& resources, hub& events,
         lb_standin& lb, stats& counters);
  ~server();

  /// \brief Binds `where`, starts accepting, and returns the bound endpoint (port 0 resolved).
  boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& where);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace certherd::sim
