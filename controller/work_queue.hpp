// The work queue of the controller, keyed by certificate name: a name is queued at most once, a
// name pushed while it is being reconciled is queued again when that reconcile ends (so no event
// is lost and no name runs twice at once), and workers wait for work without polling.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace certherd::controller {

/// \brief When each name is due to be looked at again: at most one time per name, the earliest
/// found at once. No clock and no timer: the runtime keeps one timer for the earliest time.
class due_times {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  /// \brief Sets (or moves) the time of `name`.
  void set(const std::string& name, time_point at);
  void erase(const std::string& name);
  void clear();
  std::optional<time_point> earliest() const;
  /// \brief Removes and returns, earliest first, every name due at `now` or before.
  std::vector<std::string> take_due(time_point now);
  std::size_t size() const noexcept { return by_name_.size(); }

 private:
  std::map<std::string, time_point> by_name_;
  std::set<std::pair<time_point, const std::string*>> by_time_;  ///< points at by_name_'s keys
};

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
