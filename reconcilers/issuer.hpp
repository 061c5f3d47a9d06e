// What the executor needs from a CA: one certificate for a spec, or why not. acme_issuer is the
// real one; tests script their own, so every branch of a reconcile can be driven without a CA.
#pragma once

#include "pki/certificate.hpp"
#include "pki/key.hpp"
#include "reconcilers/certificate_state.hpp"
#include "reconcilers/failure.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

/// \brief A certificate the CA issued, and its key.
struct issued_certificate {
  std::vector<pki::certificate> chain;  ///< leaf first, never empty
  pki::private_key key;
  std::string order_url = {};  ///< the CA's order, for people and logs
};

class issuer {
 public:
  virtual ~issuer() = default;
  /// \brief Orders a certificate for `spec.hosts` from `spec.directory`.
  virtual boost::asio::awaitable<outcome<issued_certificate>> async_issue(cert_spec spec) = 0;
};

}  // namespace certherd::reconcilers
