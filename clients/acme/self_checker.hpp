// The HTTP-01 self-check's I/O (the rules are self_check.hpp's): resolves the name (A and AAAA,
// as the CA does, or SELF_CHECK_ADDRESS instead), fetches the challenge URL on port 80 with the
// name as Host, follows redirects as the CA would, and says in words a person can act on why the
// answer is not the key authorization.
#pragma once

#include "clients/acme/flow.hpp"
#include "clients/http/client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace certherd::acme {

/// \brief What checks a published key authorization before the CA is asked to.
class challenge_checker {
 public:
  virtual ~challenge_checker() = default;
  /// \brief Nothing when the challenge answers its key authorization; otherwise why not (one
  /// line, safe to log: what a server sent is escaped).
  virtual boost::asio::awaitable<std::optional<std::string>> async_check(
      check_challenge c, std::chrono::steady_clock::time_point deadline) = 0;
};

struct self_check_options {
  /// "host:port" every request connects to instead of the name's addresses, and instead of port
  /// 80 (a hop to port 443 goes to the same host on 443): where a test's web server listens, or a
  /// balancer's inner address when this machine cannot reach its own public one. Empty: the
  /// name's A/AAAA records, as the CA does.
  std::string address;
  /// Where /.well-known/acme-challenge/ should lead, for the reason a person reads ("the
  /// webroot /srv/www", "certherd's responder on :8402").
  std::string route_hint = "the webroot";
  std::chrono::milliseconds step_timeout{std::chrono::seconds(10)};
  /// One check, every hop and address included.
  std::chrono::milliseconds check_timeout{std::chrono::seconds(30)};
};

class http01_self_checker final : public challenge_checker {
 public:
  /// \throws std::invalid_argument when `options.address` is not host:port.
  http01_self_checker(boost::asio::any_io_executor executor, self_check_options options);
  ~http01_self_checker() override;

  boost::asio::awaitable<std::optional<std::string>> async_check(
      check_challenge c, std::chrono::steady_clock::time_point deadline) override;

 private:
  struct candidate;
  boost::asio::awaitable<std::vector<candidate>> async_candidates(
      const std::string& host, const std::string& port,
      std::chrono::steady_clock::time_point deadline, std::string& why);

  boost::asio::any_io_executor executor_;
  self_check_options options_;
  std::string address_host_;  ///< from options_.address, brackets removed
  std::string address_port_;
  http::client client_;
};

}  // namespace certherd::acme
