// The sans-I/O machinery of the ACME core. A protocol flow is a C++20 coroutine that never touches
// a socket: it suspends on an `action` (send this HTTP request, sleep this long, publish, check or
// remove this HTTP-01 key authorization) and is resumed with the `action_result` its driver
// obtained. Flows nest (a flow may co_await another); the innermost suspended one receives the
// result. Tests drive a flow with scripted results (no sockets); the Asio driver runs it for real.
#pragma once

#include "clients/http/message.hpp"

#include <chrono>
#include <coroutine>
#include <exception>
#include <iosfwd>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace certherd::acme {

struct send_request {
  http::request request;
  /// The RFC 8555 resource it goes to (directory, newNonce, newAccount, newOrder, postAsGet,
  /// challenge, finalize, certificate, revokeCert, keyChange): a label for metrics.
  std::string endpoint = "other";
};
struct sleep_for {
  std::chrono::milliseconds duration;
};
struct present_challenge {
  std::string identifier;
  std::string token;
  std::string key_authorization;
};
struct remove_challenge {
  std::string identifier;
  std::string token;
};
/// Fetch the published challenge the way the CA will and compare the key authorization, before
/// the CA is asked to (the HTTP-01 self-check); a failure carries the reason in `detail`.
struct check_challenge {
  std::string identifier;
  std::string token;
  std::string key_authorization;
};

using action =
    std::variant<send_request, sleep_for, present_challenge, remove_challenge, check_challenge>;

std::ostream& operator<<(std::ostream& os, const action& a);

/// \brief What the driver reports after carrying out an action.
struct action_result {
  std::error_code ec;  ///< transport or presenter failure; the response is then empty
  std::string detail;  ///< a person's words for `ec`
  /// A failure sending again cannot mend: the server's TLS certificate refused, an answer over
  /// the size limit, the operation's deadline passed.
  bool lasting = false;
  http::response response;                      ///< for send_request
  std::chrono::system_clock::time_point now{};  ///< when the driver resumed the flow
};

struct flow_context {
  std::optional<action> pending;
  action_result input;
  std::coroutine_handle<> suspended;
};

/// \brief Awaitable inside a flow: hands `a` to the driver and returns its result.
/// \details Declare it as a named local and `co_await` the name. GCC 12 mis-copies a braced
/// aggregate temporary built inside a `co_await` operand (a string's small buffer ends up pointing
/// into the old copy), which corrupts the heap when the frame is destroyed.
struct perform {
  action a;
  flow_context* ctx = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class Promise>
  void await_suspend(std::coroutine_handle<Promise> h) noexcept {
    ctx = h.promise().ctx;
    ctx->pending = std::move(a);
    ctx->suspended = h;
  }
  action_result await_resume() { return std::move(ctx->input); }
};

template <class T>
class flow {
 public:
  struct promise_type;
  using handle = std::coroutine_handle<promise_type>;

  struct promise_type {
    std::optional<T> value;
    std::exception_ptr exception;
    std::coroutine_handle<> continuation;
    flow_context* ctx = nullptr;

    flow get_return_object() noexcept { return flow(handle::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct final_awaiter {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(handle h) noexcept {
        auto next = h.promise().continuation;
        return next ? next : std::noop_coroutine();
      }
      void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() noexcept { return {}; }
    template <class U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
  };

  flow(flow&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  flow& operator=(flow&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  flow(const flow&) = delete;
  flow& operator=(const flow&) = delete;
  ~flow() {
    if (h_) h_.destroy();
  }

  struct child_awaiter {
    handle child;
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> parent) noexcept {
      child.promise().continuation = parent;
      child.promise().ctx = parent.promise().ctx;
      return child;
    }
    T await_resume() {
      if (child.promise().exception) std::rethrow_exception(child.promise().exception);
      return std::move(*child.promise().value);
    }
  };

  /// Awaiting a child flow runs it inside the parent, with the parent's driver.
  child_awaiter operator co_await() && noexcept { return child_awaiter{h_}; }

 private:
  template <class>
  friend class flow_runner;
  explicit flow(handle h) noexcept : h_(h) {}
  handle h_;
};

/// \brief Steps a top-level flow: `start()`, then `resume(result)` for each action, until
/// `done()`; then `get()` yields the value (or rethrows what escaped the flow).
template <class T>
class flow_runner {
 public:
  explicit flow_runner(flow<T> f) : flow_(std::move(f)) { flow_.h_.promise().ctx = &ctx_; }

  std::optional<action> start() {
    flow_.h_.resume();
    return take();
  }

  std::optional<action> resume(action_result r) {
    ctx_.input = std::move(r);
    auto h = std::exchange(ctx_.suspended, {});
    h.resume();
    return take();
  }

  bool done() const noexcept { return flow_.h_.done(); }

  T get() {
    auto& p = flow_.h_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    return std::move(*p.value);
  }

 private:
  std::optional<action> take() {
    if (flow_.h_.done()) return std::nullopt;
    return std::exchange(ctx_.pending, std::nullopt);
  }
  flow<T> flow_;
  flow_context ctx_;
};

}  // namespace certherd::acme
