// What the executor needs from a CA: one certificate for a spec, or why not. acme_issuer is the
// real one; tests script their own, so every branch of a reconcile can be driven without a CA.
#pragma once

#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "reconcilers/certificate_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

struct issue_outcome {
  std::vector<pki::certificate> chain;  ///< empty on failure
  std::optional<pki::private_key> key;
  std::string error;                                ///< one line, on failure
  std::optional<std::chrono::seconds> retry_after;  ///< the CA's, on failure
};

class issuer {
 public:
  virtual ~issuer() = default;
  /// \brief Orders a certificate for `spec.hosts` from `spec.directory`.
  virtual boost::asio::awaitable<issue_outcome> issue(cert_spec spec) = 0;
};

}  // namespace certherd::reconcilers
