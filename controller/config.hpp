// certherd's configuration: every setting is an environment variable (the original project's
// names first, design/architecture.md §Configuration) and a flag. A bad value stops start-up with
// one line naming the variable and what it accepts.
#pragma once

#include "reconcilers/budgets.hpp"

#include "pki/key.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace certherd::controller {

inline constexpr const char* kLetsEncryptProduction =
    "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr const char* kLetsEncryptStaging =
    "https://acme-staging-v02.api.letsencrypt.org/directory";

/// \brief Thrown for a bad setting; what() is the one line to print.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct config {
  std::string domains;            ///< DOMAINS
  bool staging = true;            ///< STAGING (the original project's default)
  std::string directory;          ///< ACME_DIRECTORY, else from STAGING
  std::string email;              ///< ACME_EMAIL / CERTBOT_EMAIL
  std::string ca_bundle;          ///< ACME_CA_BUNDLE: roots to trust for the ACME server
  std::string ca_roots;           ///< ACME_ROOTS: roots of a custom directory's certificates
  std::string profile;            ///< ACME_PROFILE
  std::string preferred_chain;    ///< ACME_PREFERRED_CHAIN: the alternate chain's root CN
  std::string eab_kid, eab_hmac;  ///< ACME_EAB_KID / ACME_EAB_HMAC (or ACME_EAB_HMAC_FILE)
  std::string webroot;            ///< WEBROOT / CERTBOT_WEBROOT
  std::string challenge_listen;   ///< CHALLENGE_LISTEN
  /// SELF_CHECK: look at every published challenge as the CA will before asking it to.
  bool self_check = true;
  /// SELF_CHECK_ADDRESS: host:port the self-check connects to instead of the name's addresses
  /// and port 80; empty: as the CA does.
  std::string self_check_address;
  std::optional<int> renew_before_days;           ///< RENEW_BEFORE_DAYS
  std::chrono::seconds loop_time{300};            ///< LOOP_TIME: full resync interval
  pki::key_type key_type = pki::key_type::ec256;  ///< KEY_TYPE
  std::string state_dir = "/var/lib/certherd";    ///< STATE_DIR
  std::string output_dir;                         ///< OUTPUT_DIR: files target
  std::string output_reload;                      ///< OUTPUT_RELOAD_COMMAND: run after files change
  std::string haproxy_socket;    ///< HAPROXY_SOCKET: HAProxy's admin socket (runtime API)
  std::string haproxy_crt_list;  ///< HAPROXY_CRT_LIST: the crt-list file the frontend binds
  std::string haproxy_cert_dir;  ///< HAPROXY_CERT_DIR: where <name>.pem files go
  int concurrency = 8;           ///< CONCURRENCY: orders in flight at once
  std::string trust_store = "/etc/ssl/certs/ca-certificates.crt";  ///< SYSTEM_TRUST_STORE
  std::string listen;  ///< LISTEN: host:port of /metrics, /healthz, /readyz, /status and the page
  bool adopt_foreign = false;  ///< ADOPT_FOREIGN: overwrite valid certificates of other CAs
  /// PLACEHOLDERS: a self-signed certificate in the files and HAProxy targets until the real one
  /// is issued (never over a certificate already there, never to Rancher).
  bool placeholders = false;
  /// STATUS_TOKEN (or STATUS_TOKEN_FILE): a bearer token /status and the status page require;
  /// /metrics, /healthz and /readyz stay open. Secret.
  std::string status_token;

  // Rancher: the target and the label source are on when CATTLE_URL is set.
  std::string cattle_url;         ///< CATTLE_URL
  std::string cattle_access_key;  ///< CATTLE_ACCESS_KEY
  std::string cattle_secret_key;  ///< CATTLE_SECRET_KEY: secret
  std::string cattle_ca_bundle;   ///< CATTLE_CA_BUNDLE: roots for an https CATTLE_URL
  bool dynamic_config = true;     ///< DYNAMIC_CONFIG: read hosts from service labels
  std::string hosts_label = "com.danieldent.rancher-lets-encrypt.hosts";  ///< HOSTS_LABEL
  bool cert_per_service = false;  ///< CERT_PER_SERVICE: one certificate per labelled service
  std::string allowed_domains;    ///< ALLOWED_DOMAINS: suffixes labels may name
  std::chrono::seconds rancher_timeout{15};  ///< RANCHER_TIMEOUT: one Rancher request
  /// RATE_LIMITS: "letsencrypt" (the default for Let's Encrypt's directories), "off" (the
  /// default for others), or a file of limits (reconcilers::parse_rate_limits).
  std::string rate_limits;
  std::vector<reconcilers::rate_limit> limits;  ///< what RATE_LIMITS comes to; empty: off

  // The store: STATE_DIR's files (the default), or etcd shared by several replicas.
  enum class store_kind { file, etcd };
  store_kind store = store_kind::file;        ///< STORE: file | etcd
  std::vector<std::string> etcd_endpoints;    ///< ETCD_ENDPOINTS: comma-separated http(s) URLs
  std::string etcd_prefix = "certherd/";      ///< ETCD_PREFIX: several environments, one cluster
  std::string etcd_ca_file;                   ///< ETCD_CA_FILE: roots for https endpoints
  std::string etcd_cert_file, etcd_key_file;  ///< ETCD_CERT_FILE / ETCD_KEY_FILE: client TLS
  std::chrono::seconds etcd_timeout{5};       ///< ETCD_TIMEOUT: one etcd call
  std::chrono::seconds leader_ttl{15};        ///< LEADER_TTL: the election lease (STORE=etcd)
  /// STORE_KEY_FILE: comma-separated files of 32 raw bytes; the first seals, all open. The
  /// paths only: the keys are read by the store.
  std::string store_key_file;

  /// \brief The directory URL in force: ACME_DIRECTORY, else Let's Encrypt by STAGING.
  std::string effective_directory() const;
};

/// \brief Checks an http(s) URL setting and returns it with its scheme in lower case. Refuses
/// credentials in it (user:password@) — they would reach logs and process listings — and never
/// echoes a value that may hold some. Throws config_error naming `name`.
std::string checked_url(std::string_view name, std::string_view value);

/// \brief Checks a host:port setting ([v6]:port for IPv6) and returns it. Throws config_error
/// naming `name`.
std::string checked_address(std::string_view name, std::string_view value);

/// \brief Checks an ACME profile name (letters, digits, '-', '_', '.'; at most 64) and returns
/// it. Throws config_error naming `name`.
std::string checked_profile(std::string_view name, std::string_view value);

/// \brief A secret from a file (ACME_EAB_HMAC_FILE): its content without surrounding white
/// space. Throws config_error naming `name` and the path, never the content.
std::string read_secret_file(std::string_view name, const std::string& path);

/// \brief Reads STAGING-style booleans: true/false/1/0/yes/no in any case.
std::optional<bool> parse_bool(std::string_view text);

/// \brief Builds the configuration from the variables in `env` (name → value; a name given
/// twice, like CERTBOT_EMAIL and ACME_EMAIL, takes the newer name). Throws config_error.
config load_config(const std::map<std::string, std::string>& env);

/// \brief The process environment as a map, for load_config.
std::map<std::string, std::string> environment();

}  // namespace certherd::controller
