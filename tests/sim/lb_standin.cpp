// The load-balancer stand-in of the Rancher 1.x simulator (design/rancher-api.md §A4).
#include "tests/sim/lb_standin.hpp"

#include "reconcilers/haproxy_target.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>

#include <exception>

namespace certherd::sim {

namespace asio = boost::asio;

lb_standin::lb_standin(asio::any_io_executor executor, const store& resources, stats& counters,
                       std::optional<haproxy_settings> haproxy)
    : executor_(executor), store_(resources), stats_(counters) {
  if (haproxy) {
    // The balancer serves whatever Rancher holds: it replaces any certificate in its folder.
    static const pki::trust_anchors no_anchors;
    reconcilers::haproxy_target_options o;
    o.socket = haproxy->socket;
    o.crt_list = haproxy->crt_list;
    o.cert_dir = haproxy->cert_dir;
    o.adopt_foreign = true;
    haproxy_ = std::make_unique<reconcilers::haproxy_target>(executor, no_anchors, o);
  }
}

lb_standin::~lb_standin() = default;

void lb_standin::reload(std::string lb_id) {
  queue_.push_back(std::move(lb_id));
  if (running_) return;
  running_ = true;
  asio::co_spawn(executor_, drain(), [this](std::exception_ptr e) {
    running_ = false;
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("event=lb_reload_crashed error=\"{}\"", x.what());
    }
  });
}

asio::awaitable<void> lb_standin::drain() {
  while (!queue_.empty()) {
    std::string id = std::move(queue_.front());
    queue_.pop_front();
    co_await rebuild(id);
  }
}

asio::awaitable<void> lb_standin::rebuild(const std::string& lb_id) {
  const service_record* lb = store_.find_service(lb_id);
  if (!lb || !lb->lb) co_return;
  ++stats_.lb_reloads;
  std::vector<std::string> ids;
  if (lb->lb->default_certificate_id) ids.push_back(*lb->lb->default_certificate_id);
  for (const auto& id : lb->lb->certificate_ids) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  spdlog::info("event=lb_reload lb={} name={} certificates={} haproxy={}", lb_id, lb->name,
               ids.size(), haproxy_ != nullptr);
  if (!haproxy_) co_return;
  for (const auto& id : ids) {
    // Copied before suspending: the store may change while HAProxy answers.
    const certificate_record* c = store_.find_certificate(id);
    if (!c || c->key.empty() || c->state == "removing" || c->state == "removed") {
      spdlog::info("event=lb_skip lb={} certificate={} reason=not_usable", lb_id, id);
      continue;
    }
    std::string name = c->name;
    auto chain = pki::parse_pem_chain(c->cert + "\n" + c->cert_chain.value_or(""));
    auto key = pki::private_key::from_pem(c->key);
    if (!chain || !key) {
      ++stats_.haproxy_push_failures;
      spdlog::warn("event=lb_push_failed lb={} certificate={} name={} error=\"unusable PEM: {}\"",
                   lb_id, id, name, !chain ? chain.error().message() : key.error().message());
      continue;
    }
    std::vector<std::string> own;  // the stand-in's HAProxy folder is its own
    auto pushed =
        co_await haproxy_->async_push(name, std::move(*chain), std::move(*key), std::move(own));
    if (pushed) {
      ++stats_.haproxy_pushes;
      spdlog::info("event=lb_pushed lb={} certificate={} name={}", lb_id, id, name);
    } else {
      ++stats_.haproxy_push_failures;
      spdlog::warn("event=lb_push_failed lb={} certificate={} name={} error=\"{}\"", lb_id, id,
                   name, pushed.error().message);
    }
  }
}

}  // namespace certherd::sim
