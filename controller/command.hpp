// What every subcommand shares: one piece of asynchronous work run to its end on an io_context,
// and a failure turned into one line on stderr and an exit code (controller/exit_code.hpp).
#pragma once

#include "clients/outcome/outcome.hpp"
#include "controller/exit_code.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <memory>
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
/// keep it running forever) and made ready for the next task.
///
/// `deadline` is a backstop, for every step has its own deadline: when it passes, the task is
/// cancelled (terminal cancellation, which every Asio and Beast operation it awaits honours) and
/// given `grace` to unwind; nullopt is returned whatever it ended with. A task that unwound leaves
/// the io_context ready as above. One that did not is abandoned: the io_context stays stopped,
/// must not be run again, and its pending frames are destroyed with it — so destroy it before
/// what the task refers to, or leave the process (what the task writes its result into is kept
/// alive by the task itself, never by this frame).
template <class T>
std::optional<task_value<T>> run_to_end(
    boost::asio::io_context& ioc, boost::asio::awaitable<T> task,
    std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt,
    std::chrono::steady_clock::duration grace = std::chrono::seconds(2)) {
  struct shared {
    std::optional<task_value<T>> out;
    std::exception_ptr escaped;
    bool ended = false;
    boost::asio::cancellation_signal cancel;  // lives as long as the handler its slot is in
  };
  auto state = std::make_shared<shared>();
  boost::asio::co_spawn(ioc, detail::keep_result(std::move(task), state->out),
                        boost::asio::bind_cancellation_slot(state->cancel.slot(),
                                                            [&ioc, state](std::exception_ptr e) {
                                                              state->escaped = e;
                                                              state->ended = true;
                                                              ioc.stop();
                                                            }));
  std::optional<boost::asio::steady_timer> backstop;
  if (deadline) {
    backstop.emplace(ioc, *deadline);
    // A wait that expired in the pass the task ended in still runs: it stops nothing then.
    backstop->async_wait([&ioc, state](boost::system::error_code ec) {
      if (!ec && !state->ended) ioc.stop();
    });
  }
  ioc.run();
  if (backstop) backstop->cancel();
  if (!state->ended) {  // the backstop: cancel, and let the task unwind
    state->cancel.emit(boost::asio::cancellation_type::terminal);
    ioc.restart();
    ioc.run_for(grace);
    if (!state->ended) {  // abandoned: see above
      ioc.stop();
      return std::nullopt;
    }
    ioc.restart();
    return std::nullopt;
  }
  ioc.restart();
  if (state->escaped) std::rethrow_exception(state->escaped);
  return std::move(state->out);
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
