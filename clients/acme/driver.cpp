#include "clients/acme/driver.hpp"

#include "clients/log/log.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

namespace certherd::acme {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {
driver::observer& the_observer() {
  static driver::observer o;
  return o;
}
}  // namespace

void driver::set_observer(observer o) {
  the_observer() = std::move(o);
}

asio::awaitable<action_result> driver::async_perform(action a) {
  action_result out;
  if (steady::now() >= deadline_) {
    out.ec = std::make_error_code(std::errc::timed_out);
    out.detail = "the operation's deadline passed";
    out.lasting = true;
    out.now = std::chrono::system_clock::now();
    co_return out;
  }
  if (auto* send = std::get_if<send_request>(&a)) {
    std::string url = send->request.url;
    auto method = send->request.verb;
    auto started = steady::now();
    auto r = co_await client_.async_request(std::move(send->request), deadline_);
    if (auto& o = the_observer()) {
      o(send->endpoint, r ? r->status : 0,
        std::chrono::duration<double>(steady::now() - started).count());
    }
    if (r) {
      log::debug("acme_http",
                 {{"method", http::to_string(method)}, {"url", url}, {"status", r->status}});
      out.response = std::move(*r);
    } else {
      log::debug("acme_http",
                 {{"method", http::to_string(method)}, {"url", url}, {"error", r.error().detail}});
      out.ec = r.error().code;
      out.detail = r.error().detail;
      // A server certificate that does not verify and an answer over a size limit come back the
      // same way every time; a reset, a refusal, a timeout, a connection cut short, even a
      // handshake a balancer aborted during a deploy, may not.
      const auto& code = r.error().code;
      out.lasting = (code.category() == asio::error::get_ssl_category() &&
                     ERR_GET_REASON(static_cast<unsigned long>(code.value())) ==
                         SSL_R_CERTIFICATE_VERIFY_FAILED) ||
                    code == boost::beast::http::error::body_limit ||
                    code == boost::beast::http::error::header_limit;
    }
  } else if (auto* nap = std::get_if<sleep_for>(&a)) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(std::min(steady::now() + nap->duration, deadline_));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  } else if (auto* present = std::get_if<present_challenge>(&a)) {
    if (!presenter_) {
      out.ec = std::make_error_code(std::errc::operation_not_supported);
      out.detail = "no HTTP-01 presenter configured";
    } else {
      out.ec = presenter_->present(*present, out.detail);
    }
  } else if (auto* remove = std::get_if<remove_challenge>(&a)) {
    if (presenter_) presenter_->remove(*remove);
  } else if (auto* check = std::get_if<check_challenge>(&a)) {
    if (checker_) {
      if (auto why = co_await checker_->async_check(*check, deadline_)) {
        out.ec = std::make_error_code(std::errc::protocol_error);
        out.detail = std::move(*why);
        log::info("self_check_failed", {{"host", check->identifier}, {"reason", out.detail}});
      } else {
        log::debug("self_check_passed", {{"host", check->identifier}});
      }
    }
  }
  out.now = std::chrono::system_clock::now();
  co_return out;
}

}  // namespace certherd::acme
