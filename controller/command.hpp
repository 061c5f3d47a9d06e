// What every subcommand shares: one piece of asynchronous work run to its end on an io_context,
// and a failure turned into one line on stderr and an exit code (controller/exit_code.hpp).
#pragma once

#include "clients/outcome/outcome.hpp"
#include "controller/exit_code.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace certherd::controller {

namespace detail {

template <class T>
boost::asio::awaitable<void> keep_result(boost::asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

inline boost::asio::awaitable<void> keep_result(boost::asio::awaitable<void> task,
                                                std::optional<std::monostate>& out) {
  co_await std::move(task);
  out.emplace();
}

}  // namespace detail

/// What `run_to_end` hands back: the task's value (std::monostate for a task returning void).
template <class T>
using task_value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// \brief Runs `task` on `ioc` until it ends and returns what it returned; rethrows what escapes
/// it. The io_context is stopped when the task ends (a built-in responder's accept loop would
/// keep it running forever) and made ready for the next task. With `deadline`, it is stopped
/// then too and nullopt returned: a backstop, for every step has its own deadline; the
/// io_context must not be run again after that, for the abandoned task would go on.
template <class T>
std::optional<task_value<T>> run_to_end(
    boost::asio::io_context& ioc, boost::asio::awaitable<T> task,
    std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) {
  std::optional<task_value<T>> out;
  std::exception_ptr escaped;
  boost::asio::co_spawn(ioc, detail::keep_result(std::move(task), out),
                        [&ioc, &escaped](std::exception_ptr e) {
                          escaped = e;
                          ioc.stop();
                        });
  std::optional<boost::asio::steady_timer> backstop;
  if (deadline) {
    backstop.emplace(ioc, *deadline);
    backstop->async_wait([&ioc](boost::system::error_code ec) {
      if (!ec) ioc.stop();
    });
  }
  ioc.run();
  if (backstop) backstop->cancel();
  ioc.restart();
  if (escaped) std::rethrow_exception(escaped);
  return out;
}

/// \brief The exit code a failure leads to: a setting that is wrong is wrong usage (2), the rest
/// is an operation that failed (1).
inline int exit_code_of(const failure& f) {
  return f.kind == failure_kind::configuration ? exit_usage : exit_failed;
}

/// \brief Prints "certherd: <message>" ("certherd <command>: …" when named) on stderr and
/// returns the failure's exit code.
int report(const failure& f, std::string_view command = {});

}  // namespace certherd::controller
