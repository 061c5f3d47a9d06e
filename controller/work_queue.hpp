// The work queue of the controller, keyed by certificate name: a name is queued at most once, a
// name pushed while it is being reconciled is queued again when that reconcile ends (so no event
// is lost and no name runs twice at once), and workers wait for work without polling.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <optional>
#include <set>
#include <string>

namespace certherd::controller {

class work_queue {
 public:
  explicit work_queue(boost::asio::any_io_executor executor);

  /// \brief Queues `name` unless it is queued already; marks it for another pass if active.
  void push(const std::string& name);
  /// \brief The next name to work on, or nullopt once closed and drained of waiting.
  boost::asio::awaitable<std::optional<std::string>> async_pop();
  /// \brief Ends the work on `name`; requeues it if it was pushed meanwhile.
  void done(const std::string& name);
  /// \brief Wakes every waiting worker with nullopt; later pushes are ignored.
  void close();

  std::size_t depth() const noexcept { return ready_.size(); }
  std::size_t active() const noexcept { return active_.size(); }

 private:
  boost::asio::steady_timer signal_;
  std::deque<std::string> ready_;
  std::set<std::string> queued_, active_, dirty_;
  bool closed_ = false;
};

}  // namespace certherd::controller
