// What `run`, `plan`, `renew` and `revoke` share: the configuration read and checked, the store
// opened, the trust anchors loaded, the targets made, and the desired set (DOMAINS, plus the
// labels when Rancher is read). A start-up problem is a failure naming what is wrong; the
// command prints it (controller/command.hpp).
#pragma once

#include "reconcilers/order_budgets.hpp"

#include "clients/acme/http01_responder.hpp"
#include "clients/outcome/outcome.hpp"
#include "clients/rancher/api.hpp"
#include "clients/rancher/mirror.hpp"
#include "controller/config.hpp"
#include "controller/label_source.hpp"
#include "reconcilers/acme_issuer.hpp"
#include "reconcilers/certificate_executor.hpp"
#include "reconcilers/target.hpp"
#include "stores/account_keys.hpp"
#include "stores/certificate_store.hpp"

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certherd::controller {

/// \brief Everything start-up prepares. Lives on the heap and never moves: the executor and the
/// targets keep references into it.
struct setup {
  config cfg;
  /// What DOMAINS and the labels (at start) named that cannot get a certificate: the page lists
  /// them.
  std::vector<rejected_input> rejected_domains, rejected_labels;
  /// STATE_DIR's files, or etcd (STORE=etcd).
  std::unique_ptr<stores::certificate_store> store;
  /// STORE=etcd: the account keys in etcd too; null: STATE_DIR's folders.
  std::unique_ptr<stores::account_store> accounts;
  /// The rate-limit budgets (STATE_DIR/budgets); null with RATE_LIMITS=off.
  std::unique_ptr<reconcilers::order_budgets> budgets;
  pki::trust_anchors anchors;
  std::vector<std::string> domain_hosts;  ///< from DOMAINS
  std::string directory;
  std::optional<pki::issuer_class> expected;
  std::vector<std::string> target_names;
  std::map<std::string, reconcilers::cert_spec> specs;  ///< the desired set known so far
  std::vector<std::unique_ptr<reconcilers::target>> targets;
  // Rancher, when CATTLE_URL is set.
  std::unique_ptr<http::client> rancher_http;
  std::unique_ptr<rancher::api> rancher_api;
  rancher::mirror mirror;
};

/// \brief Opens the store `s.cfg` names (STATE_DIR's files, or etcd with its account keys) into
/// `s.store` and `s.accounts`.
outcome<> open_store(setup& s);

/// \brief Reads the configuration (environment, overridden by `flags`) and the store. A wrong
/// setting is a failure of kind configuration; a state directory that cannot be used, store_io.
outcome<std::unique_ptr<setup>> prepare(const std::map<std::string, std::string>& flags,
                                        boost::asio::io_context& ioc);

/// \brief The desired set: DOMAINS, plus what the labels ask for.
std::map<std::string, reconcilers::cert_spec> desired_specs(const setup& s,
                                                            const label_result* labels);

/// \brief With Rancher configured: connects, lists certificates and services once (running `ioc`
/// until done) and adds the labelled certificates to `s.specs`. Label problems are printed.
outcome<> read_rancher_once(setup& s, boost::asio::io_context& ioc);

/// \brief The ACME side: the HTTP client, the HTTP-01 presenter (WEBROOT or the built-in
/// responder) and the issuer with the account settings.
struct acme_parts {
  std::unique_ptr<http::client> client;
  std::unique_ptr<acme::challenge_presenter> presenter;
  /// STORE=etcd: publishes each challenge to every replica too (wraps `presenter`).
  std::unique_ptr<acme::challenge_presenter> shared_presenter;
  std::unique_ptr<acme::challenge_checker> checker;  ///< null with SELF_CHECK=false
  std::unique_ptr<reconcilers::acme_issuer> issuer;
  /// Set when CHALLENGE_LISTEN is LISTEN: the status server answers the challenges.
  acme::http01_responder* shared_responder = nullptr;
};
/// `listen_serves_challenges`: `run` starts the LISTEN server, which may then answer challenges.
/// `share_challenges`: with STORE=etcd, challenges go through the store to every replica (`run`
/// only; a one-off command answers its own).
outcome<acme_parts> make_acme(const setup& s, boost::asio::io_context& ioc,
                              bool listen_serves_challenges = false, bool share_challenges = false);

/// \brief The HTTP-01 self-check for the settings: null when `on` is false.
/// \throws std::invalid_argument for an address that is not host:port.
std::unique_ptr<acme::challenge_checker> make_self_checker(boost::asio::any_io_executor executor,
                                                           bool on, const std::string& address,
                                                           const std::string& webroot,
                                                           const std::string& challenge_listen);

reconcilers::reconcile_policy policy_of(const config& cfg);
std::vector<reconcilers::target*> raw(const std::vector<std::unique_ptr<reconcilers::target>>& v);
std::chrono::sys_seconds now_seconds();

}  // namespace certherd::controller
