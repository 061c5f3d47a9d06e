// A target is a place that serves certificates to clients: files for a web server or load
// balancer, HAProxy's runtime API, Rancher's certificate store. The executor observes what a
// target serves under a certificate name and pushes the local copy to it.
#pragma once

#include "clients/outcome/outcome.hpp"
#include "pki/certificate.hpp"
#include "reconcilers/certificate_state.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace certherd::reconcilers {

/// \brief A target would not, or could not, take or show a certificate (its disk, its answer).
inline failure refused(std::string message) {
  return fail(failure_kind::target_refused, std::move(message));
}
/// \brief A target holds, under a managed name, what certherd did not put there.
inline failure foreign(std::string message) {
  return fail(failure_kind::conflict, std::move(message));
}
/// \brief A target did not answer (a socket, a connection, a timeout).
inline failure unreachable(std::string message) {
  return fail(failure_kind::transport, std::move(message));
}

// Failures carry a kind: mostly target_refused, conflict or transport (the helpers above);
// Rancher's target also says configuration (its key refused, 401/403), and internal for a push
// with nothing to push.
class target {
 public:
  virtual ~target() = default;
  virtual std::string_view name() const = 0;
  /// \brief What the target serves under `cert_name` (present=false when nothing).
  virtual boost::asio::awaitable<outcome<target_copy>> async_observe(std::string cert_name) = 0;
  /// \brief Makes the target serve `chain` (leaf first) with `key` under `cert_name`. `own`
  /// holds the fingerprints (SHA-256 and SHA-1, hex) of every certificate certherd made under
  /// that name: what the target holds may be replaced when it is one of them, whoever signed it.
  virtual boost::asio::awaitable<outcome<>> async_push(std::string cert_name,
                                                       std::vector<pki::certificate> chain,
                                                       pki::private_key key,
                                                       std::vector<std::string> own) = 0;
};

}  // namespace certherd::reconcilers
