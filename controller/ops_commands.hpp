// The operator's commands beside `run`:
//   certherd status [--json]        — asks the running instance (LISTEN), or reads the store;
//                                     exit 0 when every certificate is valid and not failing,
//                                     1 when one is expired, missing or failing.
//   certherd renew NAME [--force]   — one reconcile of NAME now, with run's settings; --force
//                                     replaces a certificate that is not due yet.
//   certherd revoke NAME [--reason R] [--no-reissue]
//                                   — revokes NAME's certificate at its CA (RFC 8555 §7.6),
//                                     then replaces it at once unless --no-reissue.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certherd::controller {

struct status_options {
  std::string listen;     ///< LISTEN of the running instance; empty: read the store
  std::string state_dir;  ///< STATE_DIR
  bool json = false;
  bool all = false;   ///< every certificate, not only those that need attention
  std::string state;  ///< only this state
  std::string query;  ///< only names, hosts or sources with this text (any case)
};

int print_status(const status_options& o);
/// \brief The states `certherd status --state` takes: a running instance's (fleet_view) and
/// those only the store tells (missing, replace, expired, unreadable).
std::vector<std::string> status_states();

int renew_certificate(const std::map<std::string, std::string>& flags, const std::string& name,
                      bool force);

/// \brief RFC 5280 CRLReason codes by the names RFC 8555 clients use ("keyCompromise", …).
std::optional<int> revocation_reason(const std::string& name);

int revoke_certificate(const std::map<std::string, std::string>& flags, const std::string& name,
                       const std::string& reason, bool reissue);

}  // namespace certherd::controller
