// A target is a place that serves certificates to clients: files for a web server or load
// balancer, HAProxy's runtime API, Rancher's certificate store. The executor observes what a
// target serves under a certificate name and pushes the local copy to it.
#pragma once

#include "pki/certificate.hpp"
#include "reconcilers/certificate_state.hpp"
#include "stores/account_keys.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace certherd::reconcilers {

using stores::failed;
using stores::text_result;

class target {
 public:
  virtual ~target() = default;
  virtual std::string_view name() const = 0;
  /// \brief What the target serves under `cert_name` (present=false when nothing).
  virtual boost::asio::awaitable<text_result<target_copy>> async_observe(std::string cert_name) = 0;
  /// \brief Makes the target serve `chain` (leaf first) with `key` under `cert_name`. `own`
  /// holds the fingerprints (SHA-256 and SHA-1, hex) of every certificate certherd made under
  /// that name: what the target holds may be replaced when it is one of them, whoever signed it.
  virtual boost::asio::awaitable<text_result<bool>> async_push(std::string cert_name,
                                                               std::vector<pki::certificate> chain,
                                                               pki::private_key key,
                                                               std::vector<std::string> own) = 0;
};

}  // namespace certherd::reconcilers
