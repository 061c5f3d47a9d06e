// The event-driven runtime of `certherd run`: sources set the desired certificates, changed names
// go into the work queue, a bounded number of workers reconcile them, and each certificate is
// woken again by its own timer at the time its plan asked for — no loop over all certificates.
// LOOP_TIME adds a full resync as a safety net. SIGTERM/SIGINT stop intake, let in-flight
// reconciles finish within a deadline, then stop.
#pragma once

#include "controller/work_queue.hpp"
#include "reconcilers/certificate_executor.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace certherd::controller {

/// \brief The longest a certificate's timer sleeps: a time further away (a notAfter in 9999) is
/// looked at again then, and the resync covers it anyway.
inline constexpr std::chrono::seconds kLongestSleep{30 * 24 * 3600};

/// \brief How long to sleep until `at`: 0 when it has passed, at most kLongestSleep; never
/// overflows, whatever `at` is.
std::chrono::seconds delay_until(reconcilers::sys_seconds at, reconcilers::sys_seconds now);

struct runtime_options {
  int workers = 8;
  std::chrono::seconds resync_interval{300};
  std::chrono::seconds shutdown_grace{30};
};

class runtime {
 public:
  /// \param signals SIGINT/SIGTERM, registered by the caller as early as it can (a signal that
  /// arrives during start-up must still mean a graceful stop).
  runtime(boost::asio::io_context& ioc, boost::asio::signal_set& signals,
          reconcilers::executor_deps& deps, runtime_options options);
  ~runtime();

  /// \brief Replaces the desired set; queues every name that is new or changed.
  void set_desired(std::map<std::string, reconcilers::cert_spec> specs);
  /// \brief Queues a reconcile of `name` now, if it is desired (something changed outside).
  void enqueue(const std::string& name);
  bool desired(const std::string& name) const { return desired_.count(name) != 0; }
  std::size_t desired_count() const noexcept { return desired_.size(); }
  /// \brief Starts the workers, the resync timer and the signal handling.
  void start();
  /// \brief Stops intake; in-flight work gets the grace period, then the io_context stops.
  void stop();

  std::size_t reconciles() const noexcept { return reconciles_; }
  /// \brief Called after every reconcile with its report (the status board listens).
  void on_reconciled(
      std::function<void(const reconcilers::cert_spec&, const reconcilers::reconcile_report&)> f) {
    reconciled_hooks_.push_back(std::move(f));
  }
  /// \brief Called after every change of the desired set, with the new set.
  void on_desired(std::function<void(const std::map<std::string, reconcilers::cert_spec>&)> f) {
    desired_hooks_.push_back(std::move(f));
  }
  const std::map<std::string, reconcilers::cert_spec>& desired_set() const noexcept {
    return desired_;
  }
  std::size_t queue_depth() const noexcept { return queue_.depth(); }
  std::size_t in_flight() const noexcept { return queue_.active(); }
  /// \brief Runs `hook` when the runtime stops (sources stop their connections there).
  void on_stop(std::function<void()> hook) { stop_hooks_.push_back(std::move(hook)); }

 private:
  boost::asio::awaitable<void> worker();
  boost::asio::awaitable<void> resync_loop();
  void schedule(const std::string& name, reconcilers::sys_seconds at);
  void unschedule(const std::string& name);
  void arm_wake();
  void wake();

  boost::asio::io_context& ioc_;
  reconcilers::executor_deps& deps_;
  runtime_options options_;
  work_queue queue_;
  std::map<std::string, reconcilers::cert_spec> desired_;
  // When each certificate is looked at again: one timer for them all (a fleet of 100,000 keeps
  // 100,000 entries, not 100,000 pending timer operations).
  due_times due_;
  boost::asio::steady_timer wake_;
  std::optional<due_times::time_point> armed_for_;  ///< when wake_'s pending wait ends
  boost::asio::steady_timer resync_;
  boost::asio::signal_set& signals_;
  int running_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::function<void()>> stop_hooks_;
  std::vector<
      std::function<void(const reconcilers::cert_spec&, const reconcilers::reconcile_report&)>>
      reconciled_hooks_;
  std::vector<std::function<void(const std::map<std::string, reconcilers::cert_spec>&)>>
      desired_hooks_;
  std::size_t reconciles_ = 0;
};

}  // namespace certherd::controller
