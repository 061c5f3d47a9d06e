// Counters of the Rancher 1.x simulator, served by GET /_sim/stats so integration tests can
// assert on what a controller did to "Rancher" (creates, updates, LB reloads, HAProxy pushes,
// websocket connections and the resource.change events written to them).
#pragma once

#include "tests/sim/wire.hpp"

#include <cstdint>

namespace certherd::sim {

struct stats {
  std::uint64_t requests = 0;  ///< API requests (everything but /_sim/*), upgrades included
  std::uint64_t certificate_creates = 0;
  std::uint64_t certificate_updates = 0;
  std::uint64_t lb_update_actions = 0;
  std::uint64_t lb_reloads = 0;
  std::uint64_t haproxy_pushes = 0;
  std::uint64_t haproxy_push_failures = 0;
  std::uint64_t websocket_connects = 0;
  std::uint64_t websockets_open = 0;
  std::uint64_t events_sent = 0;  ///< resource.change frames written (pings not counted)

  void write(json_writer& w) const {
    w.StartObject();
    kv_int(w, "requests", requests);
    kv_int(w, "certificate_creates", certificate_creates);
    kv_int(w, "certificate_updates", certificate_updates);
    kv_int(w, "lb_update_actions", lb_update_actions);
    kv_int(w, "lb_reloads", lb_reloads);
    kv_int(w, "haproxy_pushes", haproxy_pushes);
    kv_int(w, "haproxy_push_failures", haproxy_push_failures);
    kv_int(w, "websocket_connects", websocket_connects);
    kv_int(w, "websockets_open", websockets_open);
    kv_int(w, "events_sent", events_sent);
    w.EndObject();
  }
};

}  // namespace certherd::sim
