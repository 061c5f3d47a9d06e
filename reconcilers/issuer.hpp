// What the executor needs from a CA: one certificate for a spec, or why not, and what the CA says
// of when to renew (RFC 9773). acme_issuer is the real one; tests script their own, so every
// branch of a reconcile can be driven without a CA.
#pragma once

#include "clients/acme/ari.hpp"
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
  /// The order named the certificate it replaces (RFC 9773 §5) and the CA took it: what Let's
  /// Encrypt exempts from its limits.
  bool replaced = false;
};

/// \brief What the executor knows of an order besides the spec.
struct order_context {
  /// The CertID of the held certificate this order replaces (RFC 9773 §5); empty: none.
  std::string replaces;
};

/// \brief What a renewalInfo request came to.
struct renewal_info_answer {
  bool offered = false;  ///< the directory has renewalInfo; nothing else is set when not
  /// The CA's directory could be read: false means nothing was learnt, and nothing is kept.
  bool reached = true;
  acme::ari_answer answer = acme::ari_answer::temporary;
  std::optional<acme::renewal_window> window;  ///< with answer == window
  std::optional<std::chrono::seconds> retry_after;
  std::string detail;  ///< why it is not a window, for people
};

class issuer {
 public:
  virtual ~issuer() = default;
  /// \brief Orders a certificate for `spec.hosts` from `spec.directory`.
  virtual boost::asio::awaitable<outcome<issued_certificate>> async_issue(
      cert_spec spec, order_context context) = 0;
  /// \brief Asks `directory` for its renewal information about the certificate `cert_id`. The
  /// default: no CA behind, no renewal information.
  virtual boost::asio::awaitable<renewal_info_answer> async_renewal_info(std::string directory,
                                                                         std::string cert_id);
  /// \brief Whether `directory` could not be read a moment ago, so that asking it now would
  /// only find that again (the caller saves itself the record's read). The default: never.
  virtual bool renewal_info_unreachable(const std::string& directory) const;
};

}  // namespace certherd::reconcilers
