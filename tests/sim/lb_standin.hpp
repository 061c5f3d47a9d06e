// What a Rancher 1.x load-balancer container does with API-stored certificates
// (design/rancher-api.md §A4): when its service is updated (created, PUT with a new lbConfig,
// ?action=update) the container's lb-controller fetches every certificate its lbConfig names and
// rebuilds HAProxy with them. The simulator stands in for that container with a real HAProxy:
// each certificate is pushed through the runtime API (reconcilers::haproxy_target), so a test can
// see over TLS whether the controller's updates reached the balancer. Without a socket only the
// reloads are counted.
#pragma once

#include "tests/sim/model.hpp"
#include "tests/sim/stats.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace certherd::reconcilers {
class haproxy_target;
}

namespace certherd::sim {

struct haproxy_settings {
  std::string socket;
  std::filesystem::path crt_list;
  std::filesystem::path cert_dir;
};

class lb_standin {
 public:
  lb_standin(boost::asio::any_io_executor executor, const store& resources, stats& counters,
             std::optional<haproxy_settings> haproxy);
  ~lb_standin();

  /// \brief Queues a rebuild of load balancer `lb_id`; rebuilds run one at a time, in order.
  void reload(std::string lb_id);

 private:
  boost::asio::awaitable<void> drain();
  boost::asio::awaitable<void> rebuild(const std::string& lb_id);

  boost::asio::any_io_executor executor_;
  const store& store_;
  stats& stats_;
  std::unique_ptr<reconcilers::haproxy_target> haproxy_;
  std::deque<std::string> queue_;
  bool running_ = false;
};

}  // namespace certherd::sim
