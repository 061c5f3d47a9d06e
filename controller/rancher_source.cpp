#include "controller/rancher_source.hpp"

#include "clients/log/log.hpp"

#include "controller/logging.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace certherd::controller {

namespace asio = boost::asio;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

rancher_source::rancher_source(asio::any_io_executor executor, rancher::api& api,
                               rancher::mirror& mirror, rancher_source_options options,
                               rancher_source_handlers handlers)
    : executor_(executor),
      api_(api),
      mirror_(mirror),
      options_(std::move(options)),
      handlers_(std::move(handlers)),
      pause_(executor),
      retry_(executor) {}

rancher_source::~rancher_source() {
  stop();
}

std::string_view rancher_source::state() const noexcept {
  if (!connected_) return "connecting";
  if (!subscriber_) return "idle";
  return to_string(subscriber_->state());
}

void rancher_source::start() {
  asio::co_spawn(executor_, connect_loop(), log_escaped);
}

void rancher_source::stop() {
  stopped_ = true;
  pause_.cancel();
  retry_.cancel();
  if (subscriber_) subscriber_->stop();
}

asio::awaitable<void> rancher_source::connect_loop() {
  // The project id comes first; Rancher may not be up yet, so this is retried with a backoff.
  std::chrono::seconds wait{1};
  while (!stopped_) {
    auto project = co_await api_.async_connect();
    if (project) break;
    log::warn("rancher_unreachable", {{"url", api_.base()},
                                      {"error", project.error().to_string()},
                                      {"retry_in", fmt::format("{}s", wait.count())}});
    pause_.expires_after(wait);
    co_await pause_.async_wait(tuple_awaitable);
    wait = std::min(wait * 2, std::chrono::seconds(60));
  }
  if (stopped_) co_return;
  connected_ = true;
  log::info("rancher_connected", {{"api", api_.base()}, {"project", api_.project_id()}});

  auto sub = options_.subscription;
  sub.url = rancher::subscribe_url(api_.base(), api_.project_id());
  sub.authorization = api_.authorization();
  rancher::subscriber_handlers h;
  h.connected = [this] {
    log::info("rancher_subscribed", {{"project", api_.project_id()}});
    asio::co_spawn(executor_, resync(++generation_), log_escaped);
  };
  h.received = [this](rancher::event e) {
    ++events_;
    if (e.what == rancher::event::kind::logout) {
      log::warn("rancher_logout", {{"reason", "Rancher ended the subscription"}});
      return;
    }
    if (e.what != rancher::event::kind::resource_change) return;
    changed(mirror_.apply(e), false);
  };
  h.disconnected = [this](const std::string& reason) {
    ++generation_;  // a list still in flight must not mark the mirror synced
    mirror_.mark_unsynced();
    log::warn("rancher_disconnected", {{"reason", reason}});
  };
  h.bad_frame = [](const std::string& problem) {
    log::warn("rancher_bad_event", {{"problem", problem}});
  };
  subscriber_ = std::make_unique<rancher::subscriber>(executor_, sub, std::move(h));
  subscriber_->start();
}

asio::awaitable<void> rancher_source::resync(std::uint64_t generation) {
  std::chrono::seconds wait{1};
  while (!stopped_ && generation == generation_) {
    mirror_.begin_resync();
    auto certificates = co_await api_.async_list_certificates();
    rancher::result<rancher::page<rancher::service>> services{boost::system::in_place_value,
                                                              rancher::page<rancher::service>{}};
    if (certificates && options_.dynamic) services = co_await api_.async_list_services();
    if (generation != generation_) co_return;  // a newer connection lists for itself
    if (certificates && services) {
      for (const auto& p : certificates->problems)
        log::warn("rancher_bad_resource", {{"problem", p}});
      for (const auto& p : services->problems)
        log::warn("rancher_bad_resource", {{"problem", p}});
      ++resyncs_;
      auto change = mirror_.finish_resync(std::move(certificates->data), std::move(services->data));
      log::info("rancher_resync", {{"certificates", mirror_.certificate_count()},
                                   {"services", mirror_.services().size()}});
      changed(change, resyncs_ == 1);
      co_return;
    }
    changed(mirror_.abandon_resync(), false);
    const auto& e = certificates ? services.error() : certificates.error();
    log::warn("rancher_resync_failed",
              {{"error", e.to_string()}, {"retry_in", fmt::format("{}s", wait.count())}});
    retry_.expires_after(wait);  // a member: stop() cancels it
    co_await retry_.async_wait(tuple_awaitable);
    wait = std::min(wait * 2, std::chrono::seconds(60));
  }
}

void rancher_source::changed(const rancher::mirror_change& change, bool force_labels) {
  if (options_.dynamic && (change.services || force_labels) && handlers_.labels_changed) {
    auto labels = certificates_from_labels(mirror_.services(), options_.labels);
    report(labels);
    handlers_.labels_changed(labels);
  }
  if (!change.certificate_names.empty() && handlers_.certificates_changed)
    handlers_.certificates_changed(change.certificate_names);
}

void rancher_source::report(const label_result& labels) {
  std::set<std::string> now(labels.problems.begin(), labels.problems.end());
  for (const auto& p : now) {
    if (!reported_.count(p)) log::warn("label_problem", {{"problem", p}});
  }
  reported_ = std::move(now);
}

}  // namespace certherd::controller
