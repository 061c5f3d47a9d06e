// certherd store migrate --to etcd|file: copies a single instance's store — every certificate
// record with its key, and the ACME account keys — from STATE_DIR's files into etcd (STORE=etcd's
// settings: ETCD_ENDPOINTS, ETCD_PREFIX, STORE_KEY_FILE, …) or back, so that the next `run`
// orders nothing. The source is left as it was; nothing at the destination is replaced (a name
// already there with another certificate is reported and skipped).
#pragma once

#include <map>
#include <string>

namespace certherd::controller {

/// \brief Exit 0 when everything is at the destination, 1 when something was skipped or failed,
/// 2 for bad settings.
int migrate_store(const std::map<std::string, std::string>& flags, const std::string& to);

}  // namespace certherd::controller
