#include "controller/work_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace certherd::controller {

void due_times::set(const std::string& name, time_point at) {
  auto [it, fresh] = by_name_.try_emplace(name, at);
  if (!fresh) {
    by_time_.erase({it->second, &it->first});
    it->second = at;
  }
  by_time_.insert({at, &it->first});
}

void due_times::erase(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  by_time_.erase({it->second, &it->first});
  by_name_.erase(it);
}

void due_times::clear() {
  by_time_.clear();
  by_name_.clear();
}

std::optional<due_times::time_point> due_times::earliest() const {
  if (by_time_.empty()) return std::nullopt;
  return by_time_.begin()->first;
}

std::vector<std::string> due_times::take_due(time_point now) {
  std::vector<std::string> out;
  while (!by_time_.empty() && by_time_.begin()->first <= now) {
    out.push_back(*by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
    by_name_.erase(out.back());
  }
  return out;
}

namespace asio = boost::asio;

work_queue::work_queue(asio::any_io_executor executor) : signal_(std::move(executor)) {
  signal_.expires_at(asio::steady_timer::time_point::max());
}

void work_queue::push(const std::string& name) {
  if (closed_) return;
  if (active_.count(name)) {
    dirty_.insert(name);
    return;
  }
  if (!queued_.insert(name).second) return;
  ready_.push_back(name);
  signal_.cancel_one();
}

asio::awaitable<std::optional<std::string>> work_queue::async_pop() {
  while (ready_.empty() && !closed_) {
    co_await signal_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (closed_) co_return std::nullopt;
  std::string name = std::move(ready_.front());
  ready_.pop_front();
  queued_.erase(name);
  active_.insert(name);
  // Another worker may be waiting and more work ready: pass the wake-up on.
  if (!ready_.empty()) signal_.cancel_one();
  co_return name;
}

void work_queue::done(const std::string& name) {
  active_.erase(name);
  if (dirty_.erase(name)) push(name);
}

void work_queue::close() {
  closed_ = true;
  signal_.cancel();
}

}  // namespace certherd::controller
