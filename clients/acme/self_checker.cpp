#include "clients/acme/self_checker.hpp"

#include "clients/acme/self_check.hpp"
#include "clients/http/url.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <stdexcept>

namespace certherd::acme {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

http::client_options checker_client_options(const self_check_options& o) {
  http::client_options c;
  c.verify_peer = false;  // as the CA: the host has no valid certificate yet
  c.step_timeout = o.step_timeout;
  c.operation_timeout = o.check_timeout;
  c.body_limit = 64 * 1024;
  c.user_agent = "certherd self-check (HTTP-01, as the CA will look)";
  c.max_idle_per_origin = 0;  // one request per connection, as a validator makes
  return c;
}

std::string bracketed(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

struct http01_self_checker::candidate {
  std::string connect_to;  ///< host:port, IPv6 bracketed
};

http01_self_checker::http01_self_checker(asio::any_io_executor executor, self_check_options options)
    : executor_(executor),
      options_(std::move(options)),
      client_(executor, checker_client_options(options_)) {
  if (options_.address.empty()) return;
  std::string why;
  auto parts = http::parse_url("http://" + options_.address, http::url_family::http, why);
  if (!parts || parts->target != "/" || options_.address.find('/') != std::string::npos ||
      options_.address.rfind(':') == std::string::npos) {
    throw std::invalid_argument("SELF_CHECK_ADDRESS: expected host:port (e.g. 10.0.0.5:80)");
  }
  address_host_ = parts->host;
  address_port_ = parts->port;
}

http01_self_checker::~http01_self_checker() = default;

asio::awaitable<std::vector<http01_self_checker::candidate>> http01_self_checker::async_candidates(
    const std::string& host, const std::string& port, steady::time_point deadline,
    std::string& why) {
  std::vector<candidate> out;
  if (!address_host_.empty()) {
    // The override replaces the name's addresses, and port 80 by its own port.
    out.push_back({bracketed(address_host_) + ":" + (port == "80" ? address_port_ : port)});
    co_return out;
  }
  boost::system::error_code literal;
  asio::ip::make_address(host, literal);
  if (!literal) {
    out.push_back({bracketed(host) + ":" + port});
    co_return out;
  }
  // getaddrinfo cannot be interrupted; the timer cancels our wait for it.
  auto resolver = std::make_shared<tcp::resolver>(executor_);
  asio::steady_timer timer(executor_, std::min(steady::now() + options_.step_timeout, deadline));
  timer.async_wait([resolver](boost::system::error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto [ec, results] =
      co_await resolver->async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
  timer.cancel();
  if (ec) {
    why = ec == asio::error::operation_aborted ? "the look-up timed out" : ec.message();
    co_return out;
  }
  std::vector<std::string> resolved;
  for (const auto& r : results)
    resolved.push_back(r.endpoint().address().to_string());
  for (const auto& a : validator_addresses(resolved))
    out.push_back({bracketed(a) + ":" + port});
  if (out.empty()) why = "no IPv4 or IPv6 address";
  co_return out;
}

asio::awaitable<std::optional<std::string>> http01_self_checker::async_check(
    check_challenge c, steady::time_point deadline_in) {
  const auto deadline = std::min(deadline_in, steady::now() + options_.check_timeout);
  const std::string route = fmt::format("is /.well-known/acme-challenge/ on {} routed to {}?",
                                        c.identifier, options_.route_hint);
  const std::string nat_hint =
      address_host_.empty()
          ? " (if this machine cannot reach the name's public address, set SELF_CHECK_ADDRESS "
            "to the balancer's inner address)"
          : " (SELF_CHECK_ADDRESS)";
  std::string url = challenge_url(c.identifier, c.token);
  std::string via;  // ", after N redirects, at <url>"
  for (int hop = 0;; ++hop) {
    std::string why;
    auto parts = http::parse_url(url, http::url_family::http, why);
    if (!parts) co_return fmt::format("self-check of {}: {}", c.identifier, why);
    if (hop > 0)
      via =
          fmt::format(" (after {} redirect{}, at {})", hop, hop == 1 ? "" : "s", excerpt(url, 200));
    auto candidates = co_await async_candidates(parts->host, parts->port, deadline, why);
    if (candidates.empty()) {
      co_return fmt::format(
          "{} does not resolve here ({}){} — the CA looks it up in public DNS: does its A/AAAA "
          "record point at the load balancer?{}",
          parts->host, why, via,
          address_host_.empty() ? " (SELF_CHECK_ADDRESS sends the "
                                  "self-check to a fixed address)"
                                : "");
    }
    http::response answer;
    std::string from;
    std::string failures;
    bool answered = false;
    for (const auto& at : candidates) {
      http::request req{http::method::get, url, {{"Accept", "*/*"}}, {}, false, at.connect_to};
      auto r = co_await client_.async_request(std::move(req), deadline);
      from = at.connect_to;
      if (r) {
        answer = std::move(*r);
        answered = true;
        break;
      }
      if (r.error().code == boost::beast::http::error::body_limit) {
        co_return fmt::format(
            "{} answered from {}{} with more than 64 KiB, not the key authorization — {}",
            c.identifier, from, via, route);
      }
      // IPv6 first, then IPv4 when IPv6 could not be reached, as the CA does.
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", at.connect_to,
                              r.error().code.message());
    }
    if (!answered) {
      co_return fmt::format(
          "no answer from {} at {}{} — is the load balancer (or the web server) "
          "up and listening there?{}",
          c.identifier, failures, via, nat_hint);
    }
    if (is_redirect(answer.status)) {
      auto location = answer.header_value("Location");
      if (!location) {
        co_return fmt::format("{} answered {} from {}{} without a Location — {}", c.identifier,
                              answer.status, from, via, route);
      }
      if (hop >= kMaxSelfCheckRedirects) {
        co_return fmt::format("{} redirected more than {} times{} — the CA gives up there",
                              c.identifier, kMaxSelfCheckRedirects, via);
      }
      auto next = follow_redirect(url, *location, why);
      if (!next) {
        co_return fmt::format("{} answered {} from {}{} with {} — {}", c.identifier, answer.status,
                              from, via, why, route);
      }
      url = std::move(*next);
      continue;
    }
    if (answer.status != 200) {
      co_return fmt::format("{} answered {} from {}{} — {}", c.identifier, answer.status, from, via,
                            route);
    }
    if (!is_key_authorization(answer.body, c.key_authorization)) {
      co_return fmt::format(
          "{} answered 200 from {}{}, but not with the key authorization (it sent {}) — {} "
          "Another server, or another webroot, answers there.",
          c.identifier, from, via,
          what_was_sent(answer.body, answer.header_value("Content-Type").value_or(""),
                        c.key_authorization),
          route);
    }
    co_return std::nullopt;
  }
}

}  // namespace certherd::acme
