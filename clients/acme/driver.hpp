// The Asio driver of the sans-I/O ACME flows: performs each action a flow asks for — HTTP through
// the shared client, sleeps on a steady timer, HTTP-01 publication through a presenter and its
// self-check through a checker — with one deadline over the whole run, and hands the result back
// to the flow.
#pragma once

#include "clients/acme/flow.hpp"
#include "clients/acme/http01.hpp"
#include "clients/acme/self_checker.hpp"
#include "clients/http/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string_view>

namespace certherd::acme {

class driver {
 public:
  /// \param presenter may be null when no flow of this driver orders certificates.
  /// \param checker null: challenges are not checked before the CA is asked (SELF_CHECK=false).
  driver(http::client& client, challenge_presenter* presenter,
         std::chrono::steady_clock::time_point deadline, challenge_checker* checker = nullptr)
      : client_(client), presenter_(presenter), checker_(checker), deadline_(deadline) {}

  /// \brief Carries out one action. Past the deadline nothing is attempted: the result is a
  /// timeout, which every flow reports as a transport error.
  boost::asio::awaitable<action_result> async_perform(action a);

  /// \brief Runs `f` to completion and returns its value.
  template <class T>
  boost::asio::awaitable<T> async_run(flow<T> f) {
    flow_runner<T> runner(std::move(f));
    std::optional<action> next = runner.start();
    while (next) {
      action_result r = co_await async_perform(std::move(*next));
      next = runner.resume(std::move(r));
    }
    co_return runner.get();
  }

  void set_deadline(std::chrono::steady_clock::time_point d) noexcept { deadline_ = d; }

  /// \brief Told of every request: endpoint, HTTP status (0: no answer), seconds taken.
  using observer = std::function<void(std::string_view endpoint, unsigned status, double seconds)>;
  /// \brief One observer for every driver of the process (metrics); set once at start-up.
  static void set_observer(observer o);

 private:
  http::client& client_;
  challenge_presenter* presenter_;
  challenge_checker* checker_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace certherd::acme
