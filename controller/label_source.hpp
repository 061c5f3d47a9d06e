// The label source: which certificates the environment's services ask for through the hosts
// label (HOSTS_LABEL, default com.danieldent.rancher-lets-encrypt.hosts, on launchConfig.labels).
// A label value is a comma-separated host list, trimmed; junk items are reported and skipped.
// By default each host gets its own certificate (the original project's behaviour); with
// per-service mode each service gets one certificate named after it with all its hosts as SANs.
// ALLOWED_DOMAINS limits which hosts a label may name, so one tenant's label cannot make the
// controller order certificates for arbitrary domains. Pure: services in, certificates out.
#pragma once

#include "controller/domains_source.hpp"

#include "clients/rancher/resources.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::controller {

inline constexpr const char* kDefaultHostsLabel = "com.danieldent.rancher-lets-encrypt.hosts";

struct label_options {
  std::string label = kDefaultHostsLabel;
  bool per_service = false;
  std::vector<std::string> allowed_domains;  ///< suffixes; empty: any domain
};

/// \brief A certificate the labels ask for, with the services that ask for it.
struct labelled_certificate {
  std::string name;
  std::vector<std::string> hosts;     ///< sorted, unique
  std::vector<std::string> services;  ///< "web (1s5)", in id order
};

struct label_result {
  std::map<std::string, labelled_certificate> certificates;  ///< by certificate name
  std::vector<std::string> problems;     ///< junk items, disallowed hosts, contested hosts
  std::vector<rejected_input> rejected;  ///< the items skipped, each with its service and reason
};

/// \brief True when `host` is one of `allowed` or below one of them (empty list: any host).
bool domain_allowed(std::string_view host, const std::vector<std::string>& allowed);

/// \brief Parses ALLOWED_DOMAINS (comma-separated suffixes; a leading "*." or "." is ignored).
std::vector<std::string> parse_allowed_domains(std::string_view text);

/// \brief The certificates the services' labels ask for. Deterministic: services are taken in id
/// order, so a host claimed by two services (per-service mode) always stays with the older one.
label_result certificates_from_labels(const std::map<std::string, rancher::service>& services,
                                      const label_options& options);

}  // namespace certherd::controller
