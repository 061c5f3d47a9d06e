#include "controller/settings.hpp"

#include <array>

namespace certherd::controller {
namespace {

constexpr std::string_view kHosts = "Which certificates";
constexpr std::string_view kCa = "The CA";
constexpr std::string_view kChallenges = "Challenges";
constexpr std::string_view kRenewal = "Renewal and limits";
constexpr std::string_view kTargets = "Where certificates go";
constexpr std::string_view kStatus = "Status, metrics and logs";
constexpr std::string_view kRancher = "Rancher";
constexpr std::string_view kStore = "The store and replicas";

constexpr std::array kSettings{
    setting{"DOMAINS", "--domains", kHosts, "Comma-separated hosts, one certificate each.", ""},
    setting{"DOMAINS_FILE", "--domains-file", kHosts,
            "A file of hosts, one a line or comma-separated, # comments (for lists longer than "
            "an environment variable may be).",
            ""},
    setting{"STAGING", "--staging", kCa,
            "true or false (also 1/0, yes/no): Let's Encrypt's staging or production CA.", "true"},
    setting{"ACME_DIRECTORY", "--directory", kCa,
            "Any RFC 8555 directory URL; overrides STAGING. A URL with credentials in it is "
            "refused.",
            ""},
    setting{"ACME_EMAIL", "--email", kCa, "The account's contact address (alias CERTBOT_EMAIL).",
            ""},
    setting{"ACME_CA_BUNDLE", "--ca-bundle", kCa, "PEM roots trusted for the ACME server's HTTPS.",
            "the system store"},
    setting{"ACME_ROOTS", "--ca-roots", kCa,
            "PEM roots of a custom CA's certificates (how its certificates are recognised).", ""},
    setting{"ACME_EAB_KID", "--eab-kid", kCa, "External Account Binding key id.", ""},
    setting{"ACME_EAB_HMAC", "", kCa, "External Account Binding HMAC key (environment only).", "",
            true},
    setting{"ACME_EAB_HMAC_FILE", "--eab-hmac-file", kCa,
            "A file holding the External Account Binding HMAC key.", ""},
    setting{"ACME_PROFILE", "--profile", kCa,
            "ACME profile (Let's Encrypt: classic, tlsserver, shortlived), checked against the "
            "directory at start; a change replaces the certificates.",
            "the CA's default"},
    setting{"ACME_PREFERRED_CHAIN", "--preferred-chain", kCa,
            "The alternate chain whose topmost issuer has this common name, when the CA offers "
            "one.",
            "the CA's default chain"},
    setting{"WEBROOT", "--webroot", kChallenges,
            "Challenge files go to WEBROOT/.well-known/acme-challenge/ (alias CERTBOT_WEBROOT).",
            ""},
    setting{"CHALLENGE_LISTEN", "--challenge-listen", kChallenges,
            "Or the built-in responder answers challenges on host:port.", ""},
    setting{"SELF_CHECK", "--self-check", kChallenges,
            "Fetch each challenge as the CA will before asking it to validate.", "true"},
    setting{"SELF_CHECK_ADDRESS", "--self-check-address", kChallenges,
            "host:port every self-check connects to instead of the host's addresses and port 80.",
            "the host's addresses, port 80"},
    setting{"RENEW_BEFORE_DAYS", "--renew-before-days", kRenewal,
            "Renew this many days before expiry (at most half the lifetime); the backstop when "
            "the CA has ARI.",
            "a third of the lifetime"},
    setting{"RATE_LIMITS", "", kRenewal,
            "letsencrypt, off, or a file of limits, one 'name capacity period' a line "
            "(certificates_per_domain 50 7d).",
            "letsencrypt for Let's Encrypt's directories, else off"},
    setting{"LOOP_TIME", "--loop-time", kRenewal,
            "A full resync every so many seconds (a safety net; timers do the work).", "300"},
    setting{"KEY_TYPE", "--key-type", kRenewal, "ec256, ec384, rsa2048, rsa3072 or rsa4096.",
            "ec256"},
    setting{"CONCURRENCY", "--concurrency", kRenewal, "Orders in flight at once.", "8"},
    setting{"STATE_DIR", "--state-dir", kTargets,
            "Certificates, keys and account keys (0600 files, 0700 folders).", "/var/lib/certherd"},
    setting{"OUTPUT_DIR", "--output-dir", kTargets,
            "The files target: DIR/HOST/{cert,chain,fullchain,privkey,combined}.pem, switched "
            "together in one rename.",
            ""},
    setting{"OUTPUT_RELOAD_COMMAND", "--output-reload-command", kTargets,
            "Run through /bin/sh (30 s limit) after files change.", ""},
    setting{"HAPROXY_SOCKET", "--haproxy-socket", kTargets,
            "HAProxy's admin socket (stats socket ... level admin): the HAProxy target.", ""},
    setting{"HAPROXY_CRT_LIST", "--haproxy-crt-list", kTargets,
            "The crt-list file HAProxy's frontend binds; required with the socket.", ""},
    setting{"HAPROXY_CERT_DIR", "--haproxy-cert-dir", kTargets,
            "Where HOST.pem is kept for HAProxy restarts.", "the crt-list's folder/certherd"},
    setting{"PLACEHOLDERS", "--placeholders", kTargets,
            "Until a certificate is issued, serve a self-signed one for its hosts (files and "
            "HAProxy).",
            "false"},
    setting{"SYSTEM_TRUST_STORE", "--system-trust-store", kTargets,
            "The bundle whose ISRG roots mark production certificates.",
            "/etc/ssl/certs/ca-certificates.crt"},
    setting{"ADOPT_FOREIGN", "--adopt-foreign", kTargets,
            "Replace valid certificates of other CAs under managed names.", "false"},
    setting{"LISTEN", "--listen", kStatus,
            "host:port of /metrics, /healthz, /readyz, /status and the status page.", "off"},
    setting{"STATUS_TOKEN", "", kStatus,
            "A secret (16 characters or more) /status and the page require (environment only).",
            "open", true},
    setting{"STATUS_TOKEN_FILE", "--status-token-file", kStatus, "A file holding STATUS_TOKEN.",
            ""},
    setting{"LOG_LEVEL", "--log-level", kStatus, "trace, debug, info, warn, error or off.", "info"},
    setting{"LOG_FORMAT", "--log-format", kStatus, "text (key=value) or json.", "text"},
    setting{"CATTLE_URL", "--cattle-url", kRancher, "Rancher's API URL (Rancher injects it).",
            "no Rancher"},
    setting{"CATTLE_ACCESS_KEY", "", kRancher, "The environment API key (environment only).", "",
            true},
    setting{"CATTLE_SECRET_KEY", "", kRancher, "Its secret (environment only).", "", true},
    setting{"CATTLE_CA_BUNDLE", "--cattle-ca-bundle", kRancher,
            "PEM roots trusted for an https CATTLE_URL.", "the system store"},
    setting{"DYNAMIC_CONFIG", "--dynamic-config", kRancher, "Read hosts from services' labels.",
            "true"},
    setting{"HOSTS_LABEL", "--hosts-label", kRancher, "The label that names hosts.",
            "com.danieldent.rancher-lets-encrypt.hosts"},
    setting{"CERT_PER_SERVICE", "--cert-per-service", kRancher,
            "One certificate per service instead of one per host.", "false"},
    setting{"ALLOWED_DOMAINS", "--allowed-domains", kRancher,
            "Comma-separated domains labels may name.", "any"},
    setting{"RANCHER_TIMEOUT", "--rancher-timeout", kRancher, "Seconds for one Rancher request.",
            "15"},
    setting{"STORE", "--store", kStore, "file (records under STATE_DIR) or etcd.", "file"},
    setting{"ETCD_ENDPOINTS", "--etcd-endpoints", kStore,
            "Comma-separated http(s)://host:port of the etcd members, tried in turn.", ""},
    setting{"ETCD_PREFIX", "--etcd-prefix", kStore,
            "The prefix of every key, so several environments share one cluster.", "certherd/"},
    setting{"ETCD_CA_FILE", "--etcd-ca-file", kStore, "PEM roots for https endpoints.",
            "the system store"},
    setting{"ETCD_CERT_FILE", "--etcd-cert-file", kStore,
            "The client certificate etcd's --client-cert-auth asks for.", ""},
    setting{"ETCD_KEY_FILE", "--etcd-key-file", kStore, "Its private key.", ""},
    setting{"ETCD_TIMEOUT", "--etcd-timeout", kStore, "Seconds for one etcd call.", "5"},
    setting{"STORE_KEY_FILE", "--store-key-file", kStore,
            "Comma-separated files of 32 raw bytes that seal private keys in etcd; the first "
            "seals, all open.",
            "none (required with etcd)"},
    setting{"LEADER_TTL", "--leader-ttl", kStore,
            "Seconds of the leader's lease: how long a dead leader is waited for.", "15"},
};

constexpr std::array kExitCodes{
    exit_code_row{0, "Success: run stopped cleanly; status found every certificate ready."},
    exit_code_row{1,
                  "The operation failed: a store that cannot be opened, a CA or Rancher that "
                  "refused or did not answer, a certificate not ready (status), something not "
                  "copied (store migrate)."},
    exit_code_row{2,
                  "Wrong usage or a bad setting, named on standard error (a wrong STORE_KEY_FILE "
                  "included)."},
};

constexpr std::array kFiles{
    file_row{"/var/lib/certherd", "STATE_DIR: certificates/, accounts/, budgets, chain-facts."},
    file_row{"/etc/default/certherd",
             "The service's settings, every one listed and commented out (the Debian package's "
             "systemd unit reads it; root's alone, 0600)."},
    file_row{"/lib/systemd/system/certherd.service",
             "The systemd unit: runs certherd run as the certherd user; enabled by hand."},
    file_row{"OUTPUT_DIR/HOST/",
             "cert.pem, chain.pem, fullchain.pem, privkey.pem, combined.pem (the files target)."},
    file_row{"HAPROXY_CERT_DIR/HOST.pem", "Chain and key for HAProxy, with .certherd-owned."},
};

}  // namespace

std::span<const setting> settings() {
  return kSettings;
}
std::span<const exit_code_row> exit_codes() {
  return kExitCodes;
}
std::span<const file_row> files() {
  return kFiles;
}

}  // namespace certherd::controller
