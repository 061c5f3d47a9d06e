// The Rancher source: keeps the mirror of the environment current and tells the runtime what
// the labels ask for. It connects (the project id), subscribes to resource.change, and after
// every (re)connect lists certificates and services again — connect first, then list, then apply
// the events that came meanwhile — so nothing that changed while the socket was down is missed.
// Service changes recompute the labelled certificates; certificate changes (someone edited a
// managed certificate in Rancher) wake the reconciler for that name. It never acts itself.
#pragma once

#include "clients/rancher/api.hpp"
#include "clients/rancher/mirror.hpp"
#include "clients/rancher/subscriber.hpp"
#include "controller/label_source.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>

namespace certherd::controller {

struct rancher_source_options {
  label_options labels;
  bool dynamic = true;                       ///< DYNAMIC_CONFIG: read the labels at all
  rancher::subscriber_options subscription;  ///< url and authorization are filled in on connect
};

struct rancher_source_handlers {
  std::function<void(const label_result&)> labels_changed;
  std::function<void(const std::set<std::string>&)> certificates_changed;
};

class rancher_source {
 public:
  rancher_source(boost::asio::any_io_executor executor, rancher::api& api, rancher::mirror& mirror,
                 rancher_source_options options, rancher_source_handlers handlers);
  ~rancher_source();

  void start();
  void stop();

  bool synced() const noexcept { return mirror_.synced(); }
  std::string_view state() const noexcept;
  std::size_t events() const noexcept { return events_; }
  std::size_t resyncs() const noexcept { return resyncs_; }

 private:
  boost::asio::awaitable<void> connect_loop();
  boost::asio::awaitable<void> resync(std::uint64_t generation);
  void changed(const rancher::mirror_change& change, bool force_labels);
  void report(const label_result& labels);

  boost::asio::any_io_executor executor_;
  rancher::api& api_;
  rancher::mirror& mirror_;
  rancher_source_options options_;
  rancher_source_handlers handlers_;
  std::unique_ptr<rancher::subscriber> subscriber_;
  boost::asio::steady_timer pause_;
  boost::asio::steady_timer retry_;
  std::uint64_t generation_ = 0;
  std::set<std::string> reported_;  // problems already logged, so a resync does not repeat them
  std::size_t events_ = 0;
  std::size_t resyncs_ = 0;
  bool stopped_ = false;
  bool connected_ = false;
};

}  // namespace certherd::controller
