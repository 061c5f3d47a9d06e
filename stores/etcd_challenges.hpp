// HTTP-01 challenges shared by the replicas of an etcd store: the leader publishes each key
// authorization locally and under <prefix>challenges/<token> (on a lease: a token a killed
// leader left goes by itself), and every replica — the leader too — publishes what the store's
// watch brings with its own presenter, so whichever replica's responder (or webroot) the load
// balancer picks answers the CA.
#pragma once

#include "clients/acme/http01.hpp"
#include "stores/etcd_store.hpp"

#include <boost/asio/any_io_executor.hpp>

namespace certherd::stores {

class etcd_challenge_presenter final : public acme::challenge_presenter {
 public:
  /// \param local this replica's presenter (the built-in responder, or WEBROOT); used on the
  /// event loop of `executor` only.
  etcd_challenge_presenter(etcd_store& store, acme::challenge_presenter& local,
                           boost::asio::any_io_executor executor);
  std::error_code present(const acme::present_challenge& c, std::string& detail) override;
  void remove(const acme::remove_challenge& c) override;

  /// The lease a published token lives on.
  static constexpr std::chrono::seconds kTokenLease{3600};

 private:
  etcd_store& store_;
  acme::challenge_presenter& local_;
};

}  // namespace certherd::stores
