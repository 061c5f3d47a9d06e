// The ACME protocol flows of RFC 8555 as sans-I/O coroutines over one account: directory,
// nonces with capped re-signing on badNonce (§6.5), account create/find with contact, terms of
// service and External Account Binding (§7.3), orders for several names with HTTP-01 (§7.4,
// §8.3; already-valid authorizations are taken as they are), polling that starts fast and honours
// Retry-After with a bound, finalize, chain download with alternates (§7.4.2) and a preferred
// chain, revocation (§7.6) and account key rollover (§7.3.5).
//
// A session is data plus flows; run a flow with the Asio driver (driver.hpp) or step it by hand in
// a test. One flow at a time per session keeps the nonce pool simple and is what the driver does.
#pragma once

#include "clients/acme/error.hpp"
#include "clients/acme/flow.hpp"
#include "clients/acme/nonce_pool.hpp"
#include "clients/acme/polling.hpp"
#include "clients/acme/resources.hpp"
#include "pki/key.hpp"

#include <optional>
#include <string>
#include <vector>

namespace certherd::acme {

/// After this many badNonce answers in a row, each re-signing waits first: 50 ms, 100 ms, … up
/// to 1 s (at a CA rejecting 90 % of nonces, one request in eight gets that far).
inline constexpr int kBadNoncesWithoutPause = 20;

/// Longest Retry-After a flow waits for itself; a longer one fails the flow, and the reconcile
/// waits (its backoff honours Retry-After).
inline constexpr std::chrono::seconds kMaxInFlowRetryAfter{30};

struct session_options {
  /// Re-signings after badNonce before giving up. RFC 8555 §6.5 asks clients to retry, and each
  /// rejection brings a fresh nonce: a retry costs one round trip and no wait. Pebble rejects 5 %
  /// by default; at a CA rejecting 90 %, 100 re-signings fail one request in 40,000. Past
  /// kBadNoncesWithoutPause in a row each waits a little first.
  int max_bad_nonce_retries = 100;
  /// Requests that got no answer (refused, reset, timed out, cut short) or a 502, 503 or 504 are
  /// sent again this many times, after 1 s, 2 s, 4 s… (or the answer's Retry-After, when it asks
  /// for at most kMaxInFlowRetryAfter), before the flow fails: one lost packet must not cost a
  /// certificate the reconcile's backoff. Each retry is signed anew with a fresh nonce; a lost
  /// newOrder answer may leave one unused order at the CA, never a certificate.
  int max_transport_retries = 3;
  std::chrono::milliseconds transport_retry_first{1000};
  poll_policy poll;
  /// Looks at each published challenge before the CA is told to validate it (the driver's
  /// checker does the looking; SELF_CHECK=false gives it none). A web server may take a moment
  /// to see a new file (a shared volume, a reload): a check that fails is made again after 1 s,
  /// then 2 s, this many looks in all, before the order is given up without asking the CA.
  int self_check_attempts = 3;
  std::chrono::milliseconds self_check_retry_first{1000};
};

struct account_options {
  std::vector<std::string> contact;  ///< "mailto:..." URIs
  std::string eab_kid;
  std::string eab_hmac;  ///< base64url HMAC key; a secret
};

struct order_request {
  std::vector<std::string> names;
  std::string csr_der;
  std::string profile;          ///< empty: the CA's default
  std::string preferred_chain;  ///< issuer CN of the topmost certificate; empty: the default chain
  /// RFC 9773 §5: the CertID of the certificate this order replaces; empty: none. Sent only when
  /// the directory offers renewalInfo.
  std::string replaces = {};
};

/// \brief What an unauthenticated renewalInfo GET (RFC 9773 §4.2) came to.
struct renewal_info_response {
  bool offered = false;  ///< the directory names a renewalInfo resource; nothing was sent if not
  unsigned status = 0;   ///< the HTTP status; 0 when no answer came
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  std::string detail;  ///< what went wrong when no answer came
};

struct issued_certificate {
  std::string order_url;
  std::string certificate_url;
  std::string chain_pem;  ///< leaf first, as served
  std::vector<std::string> alternate_urls;
};

class session {
 public:
  session(std::string directory_url, pki::private_key account_key, session_options options = {});

  flow<result<directory>> load_directory();
  /// \brief The directory to use instead of fetching it (one fetched by another session).
  void set_directory(directory d) { directory_ = std::move(d); }
  const std::optional<directory>& loaded_directory() const noexcept { return directory_; }
  /// \brief GET renewalInfo/<cert_id>, unsigned. An error only when the directory cannot be
  /// loaded; a CA without ARI answers `offered = false`.
  flow<result<renewal_info_response>> renewal_info(std::string cert_id);
  /// \brief newAccount: creates the account, or finds the existing one of this key.
  flow<result<account>> register_account(account_options options);
  /// \brief newAccount with onlyReturnExisting: fails with accountDoesNotExist when unknown.
  flow<result<account>> find_account();
  flow<result<issued_certificate>> issue(order_request request);
  /// \brief revokeCert signed by the account. `reason` is an RFC 5280 CRLReason code.
  flow<result<bool>> revoke(std::string certificate_der, std::optional<int> reason);
  /// \brief keyChange: the account's key becomes `new_key` (this session's too) on success.
  flow<result<bool>> change_key(pki::private_key new_key);
  /// \brief A signed POST (POST-as-GET when `payload` is nullopt) with nonce handling. Statuses
  /// of 400 and above come back as errors carrying the server's problem document.
  /// `endpoint` labels the request for metrics when the URL alone cannot tell (challenge,
  /// finalize).
  flow<result<http::response>> post(std::string url, std::optional<std::string> payload,
                                    std::string accept = {}, std::string endpoint = {});

  const std::string& directory_url() const noexcept { return directory_url_; }
  const std::string& account_url() const noexcept { return account_url_; }
  void set_account_url(std::string url) { account_url_ = std::move(url); }
  const pki::private_key& account_key() const noexcept { return account_key_; }
  const session_options& options() const noexcept { return options_; }

 private:
  /// \brief Which RFC 8555 resource a signed POST goes to (a metrics label).
  std::string endpoint_of(const std::string& url, const std::optional<std::string>& payload,
                          const std::string& accept, const std::string& named) const;
  flow<result<http::response>> signed_post(std::string url, std::optional<std::string> payload,
                                           std::string accept, bool embed_jwk,
                                           std::string endpoint = {});
  flow<result<std::string>> fetch_nonce();
  /// A GET or HEAD sent again while retry_wait() says so: the last answer, the first failure.
  struct unsigned_answer {
    action_result result;
    std::string first;
    int retries = 0;
  };
  flow<unsigned_answer> send_unsigned(http::method verb, std::string url, std::string endpoint);
  flow<result<account>> new_account(std::string payload);
  flow<result<authorization>> fetch_authorization(std::string url);
  flow<result<bool>> authorize(std::vector<authorization> authzs,
                               std::vector<present_challenge>& presented);
  /// \brief Looks at a published challenge as the CA will, again after a pause while it fails:
  /// nothing when it answered its key authorization; else self_check_failed with the last
  /// reason (transport when the order's deadline passed meanwhile).
  flow<std::optional<error>> self_check(const present_challenge& p);
  flow<result<bool>> await_authorization(std::string url);
  flow<result<order>> await_order(order o, order_status leaving);
  flow<result<issued_certificate>> download(std::string url, std::string preferred_chain);
  void remember_nonce(const http::response& r);
  /// \brief How long to wait before sending again a request that got `r` on its `attempt`-th
  /// retry, or nullopt when it is not to be sent again.
  std::optional<std::chrono::milliseconds> retry_wait(const action_result& r, int attempt) const;

  std::string directory_url_;
  pki::private_key account_key_;
  session_options options_;
  std::optional<directory> directory_;
  std::string account_url_;
  nonce_pool nonces_;
  std::chrono::system_clock::time_point last_now_{};  ///< when the last response arrived
};

}  // namespace certherd::acme
