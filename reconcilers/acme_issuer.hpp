// Issuance for the reconciler: one ACME account per directory (registered on first use, its key
// from the store), a fresh certificate key per order, and the checks the reconciler relies on
// (the leaf is for that key and covers every host). Many orders run at once, each in a session
// of its own over one shared HTTP client.
#pragma once

#include "clients/acme/driver.hpp"
#include "clients/acme/session.hpp"
#include "pki/certificate.hpp"
#include "reconcilers/certificate_state.hpp"
#include "reconcilers/issuer.hpp"
#include "reconcilers/order_budgets.hpp"
#include "stores/account_keys.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace certherd::reconcilers {

struct acme_issuer_options {
  std::filesystem::path state_dir;
  /// Where account keys live; null: STATE_DIR's folders.
  stores::account_store* accounts = nullptr;
  acme::account_options account;
  std::string preferred_chain;  ///< the alternate chain (RFC 8555 §7.4.2) whose root has this CN
  std::chrono::seconds order_timeout{std::chrono::minutes(5)};
  /// No registration, order or revocation runs past this, whatever order_timeout leaves (a
  /// one-shot command's whole deadline, so that its own steps time out, with their reason,
  /// before the command's backstop does).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  acme::session_options session;
  /// Charged a new account per registration (the new_accounts limit); null: none.
  order_budgets* budgets = nullptr;
  /// Looks at every published challenge before the CA is asked to validate it (the HTTP-01
  /// self-check); null only with SELF_CHECK=false.
  acme::challenge_checker* checker = nullptr;
};

class acme_issuer final : public issuer {
 public:
  acme_issuer(http::client& client, acme::challenge_presenter& presenter,
              acme_issuer_options options);

  /// \brief Orders a certificate for `spec.hosts` from `spec.directory`, naming the certificate
  /// it replaces when `context` has one; a CA that says that one was already replaced gets the
  /// order again without it.
  boost::asio::awaitable<outcome<issued_certificate>> async_issue(cert_spec spec,
                                                                  order_context context) override;

  /// \brief GET renewalInfo of `directory` for `cert_id` (the directory is fetched at most once
  /// an hour per directory).
  boost::asio::awaitable<renewal_info_answer> async_renewal_info(std::string directory,
                                                                 std::string cert_id) override;

  /// \brief Whether a renewalInfo poll of `directory` failed to read it within the last minute.
  bool renewal_info_unreachable(const std::string& directory) const override;

  /// \brief The directory's resources (fetched at most once an hour, like an order's).
  boost::asio::awaitable<outcome<acme::directory>> async_directory(std::string directory);

  /// \brief Revokes `leaf` at `directory` with the account's key (RFC 8555 §7.6); `reason` is an
  /// RFC 5280 CRLReason code. A certificate already revoked counts as revoked.
  boost::asio::awaitable<outcome<>> async_revoke(std::string directory, pki::certificate leaf,
                                                 std::optional<int> reason);

 private:
  /// now + order_timeout, or the options' deadline if that comes first.
  std::chrono::steady_clock::time_point step_deadline() const;

  struct account_state {
    std::optional<stores::account_record> record;
    std::optional<pki::private_key> key;
    std::string url;
    std::optional<failure> error;  ///< why the last registration failed
    // One registration at a time per directory: orders that start together wait for it
    // rather than each sending newAccount (a CA may refuse the race, as Pebble does with 500).
    bool registering = false;
    std::shared_ptr<boost::asio::steady_timer> registered;
    /// The CA refused the account: a registration, or an order signed by an account just
    /// registered again. Nothing is sent to this directory before `refused_until` (or a
    /// restart); then one registration is tried.
    std::optional<failure> refused;
    std::chrono::steady_clock::time_point refused_until{};
  };
  /// \brief What the CA says of the account `st` holds, asked without registering (newAccount
  /// with onlyReturnExisting): nothing when it is valid or the CA could not be asked; else the
  /// failure (kind account_unknown: the CA does not know it; unauthorized: deactivated, revoked).
  boost::asio::awaitable<std::optional<failure>> async_account_standing(
      const std::string& directory, account_state& st);
  /// \brief Stops ordering from `directory` for kAccountRefusedWait: the CA refused its account
  /// (`why`, the CA's words). Returns the failure every order gets meanwhile.
  failure refuse_account(const std::string& directory, account_state& st, failure why);
  boost::asio::awaitable<account_state*> account_for(const std::string& directory);

  /// A session for `directory` signing with `key`, given the directory fetched within the hour.
  acme::session session_for(const std::string& directory, const pki::private_key& key) const;
  /// Keeps the directory a session fetched, for the sessions of the next hour.
  void remember_directory(const std::string& directory, const acme::session& s);

  struct known_directory {
    acme::directory value;
    std::chrono::steady_clock::time_point fetched;
  };
  std::map<std::string, known_directory> directories_;
  /// When a directory last could not be read for a renewalInfo poll: polls skip it for a
  /// minute rather than each wait for its own failure (a worker each, at start-up).
  std::map<std::string, std::chrono::steady_clock::time_point> unreachable_;
  std::optional<pki::private_key> unsigned_key_;  ///< a session's key for unsigned GETs only

  http::client& client_;
  acme::challenge_presenter& presenter_;
  acme_issuer_options options_;
  std::map<std::string, account_state> accounts_;
};

}  // namespace certherd::reconcilers
