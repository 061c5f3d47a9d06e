#include "controller/runtime.hpp"

#include "clients/log/log.hpp"

#include "controller/logging.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>

namespace certherd::controller {

namespace asio = boost::asio;

namespace {

bool same_spec(const reconcilers::cert_spec& a, const reconcilers::cert_spec& b) {
  return a.hosts == b.hosts && a.directory == b.directory && a.key_type == b.key_type &&
         a.targets == b.targets && a.expected_class == b.expected_class;
}

}  // namespace

runtime::runtime(asio::io_context& ioc, asio::signal_set& signals, reconcilers::executor_deps& deps,
                 runtime_options options)
    : ioc_(ioc),
      deps_(deps),
      options_(options),
      queue_(ioc.get_executor()),
      wake_(ioc),
      resync_(ioc),
      signals_(signals) {}

runtime::~runtime() = default;

void runtime::set_desired(std::map<std::string, reconcilers::cert_spec> specs) {
  for (const auto& [name, spec] : specs) {
    auto it = desired_.find(name);
    if (it == desired_.end() || !same_spec(it->second, spec)) queue_.push(name);
  }
  for (const auto& [name, spec] : desired_) {
    if (!specs.count(name)) {
      // No longer wanted: stop renewing. Its certificate stays where it is (never deleted).
      log::info("unmanaged",
                {{"cert", name}, {"reason", "no source wants it any more; left in place"}});
      unschedule(name);
    }
  }
  desired_ = std::move(specs);
  for (auto& hook : desired_hooks_)
    hook(desired_);
}

void runtime::enqueue(const std::string& name) {
  if (!stopping_ && desired_.count(name)) queue_.push(name);
}

void runtime::start() {
  for (int i = 0; i < options_.workers; ++i) {
    ++running_workers_;
    asio::co_spawn(ioc_, worker(), log_escaped);
  }
  asio::co_spawn(ioc_, resync_loop(), log_escaped);
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::info("shutdown", {{"signal", sig}, {"in_flight", queue_.active()}});
    stop();
  });
}

void runtime::stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& hook : stop_hooks_)
    hook();
  queue_.close();
  resync_.cancel();
  wake_.cancel();
  armed_for_.reset();
  due_.clear();
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  if (running_workers_ == 0) {
    ioc_.stop();
    return;
  }
  // In-flight reconciles have until the grace period ends; then everything stops.
  auto grace = std::make_shared<asio::steady_timer>(ioc_, options_.shutdown_grace);
  grace->async_wait([this, grace](boost::system::error_code ec) {
    if (!ec) {
      log::warn("shutdown_forced", {{"in_flight", queue_.active()}});
      ioc_.stop();
    }
  });
}

std::chrono::seconds delay_until(reconcilers::sys_seconds at, reconcilers::sys_seconds now) {
  // Compared before subtracting: `at` may be any time a certificate or a CA named (year 9999),
  // and a steady_clock duration in nanoseconds ends in 2262.
  if (at <= now) return std::chrono::seconds(0);
  if (at - now > kLongestSleep) return kLongestSleep;
  return at - now;
}

void runtime::schedule(const std::string& name, reconcilers::sys_seconds at) {
  due_.set(name, std::chrono::steady_clock::now() +
                     delay_until(at, std::chrono::time_point_cast<std::chrono::seconds>(
                                         std::chrono::system_clock::now())));
  arm_wake();
}

void runtime::unschedule(const std::string& name) {
  due_.erase(name);
}

void runtime::arm_wake() {
  auto first = due_.earliest();
  if (!first || stopping_) return;
  if (armed_for_ && *armed_for_ <= *first) return;  // the pending wait ends early enough
  armed_for_ = *first;
  wake_.expires_at(*first);  // a pending wait ends with operation_aborted
  wake_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    armed_for_.reset();
    wake();
  });
}

void runtime::wake() {
  for (const auto& name : due_.take_due(std::chrono::steady_clock::now()))
    queue_.push(name);
  arm_wake();
}

asio::awaitable<void> runtime::worker() {
  while (auto name = co_await queue_.async_pop()) {
    auto it = desired_.find(*name);
    if (it != desired_.end()) {
      ++reconciles_;
      // A copy: set_desired may replace the map while this reconcile is suspended.
      reconcilers::cert_spec spec = it->second;
      auto report = co_await reconcilers::reconcile(spec, deps_, true);
      for (auto& hook : reconciled_hooks_)
        hook(spec, report);
      if (report.requeue_at && !stopping_ && desired_.count(*name)) {
        schedule(*name, *report.requeue_at);
        log::debug("requeue", {{"cert", *name}, {"at", *report.requeue_at}});
      }
    }
    queue_.done(*name);
    // A reconcile that finds nothing to do never suspends: yield, so timers, signals and I/O
    // are served between certificates even during a pass over thousands of them.
    co_await asio::post(ioc_, asio::use_awaitable);
  }
  if (--running_workers_ == 0 && stopping_) {
    log::info("stopped", {{"reconciles", reconciles_}});
    ioc_.stop();
  }
}

asio::awaitable<void> runtime::resync_loop() {
  while (!stopping_) {
    resync_.expires_after(options_.resync_interval);
    auto [ec] = co_await resync_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) break;
    for (const auto& [name, spec] : desired_)
      queue_.push(name);
  }
}

}  // namespace certherd::controller
