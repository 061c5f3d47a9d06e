// The Rancher target: certificates in Rancher's certificate store (design/rancher-api.md §A3, §A4),
// where load balancers pick them up. An existing certificate is updated in place — same id, so
// every load balancer that references it keeps its reference — and then every active
// load-balancer service that references it is asked to `update`, because Rancher ≥ 1.2 load
// balancers do not reload on a bare certificate update. A missing one is created under the
// certificate's name with the leaf in `cert` and only the intermediates in `certChain`.
// What Rancher holds is read from the mirror the event stream keeps current (one GET by name
// while the mirror is not synced) and classified by verifying its chain; the classification is
// kept per fingerprint, so a resync of thousands of certificates verifies nothing twice.
#pragma once

#include "clients/rancher/api.hpp"
#include "clients/rancher/mirror.hpp"
#include "pki/classification.hpp"
#include "reconcilers/target.hpp"

#include <functional>
#include <map>
#include <set>

namespace certherd::reconcilers {

class rancher_target final : public target {
 public:
  rancher_target(rancher::api& api, rancher::mirror& mirror, const pki::trust_anchors& anchors,
                 bool adopt_foreign);

  std::string_view name() const override { return "rancher"; }
  boost::asio::awaitable<outcome<target_copy>> async_observe(std::string cert_name) override;
  boost::asio::awaitable<outcome<>> async_push(std::string cert_name,
                                               std::vector<pki::certificate> chain,
                                               pki::private_key key,
                                               std::vector<std::string> own) override;

  /// \brief The Rancher copy a certificate resource amounts to (parsed and classified).
  target_copy to_target_copy(const rancher::certificate& c);

 private:
  boost::asio::awaitable<outcome<std::optional<rancher::certificate>>> current(
      const std::string& cert_name);
  /// \brief Asks each load balancer that references `c` to update (the last refusal if any).
  boost::asio::awaitable<outcome<>> reload_load_balancers(const rancher::certificate& c);

  rancher::api& api_;
  rancher::mirror& mirror_;
  const pki::trust_anchors& anchors_;
  bool adopt_foreign_;
  std::map<std::string, target_copy> classified_;  // by SHA-256 of cert + certChain
  std::set<std::string> reload_pending_;           // updated, load balancers not yet told
};

}  // namespace certherd::reconcilers
