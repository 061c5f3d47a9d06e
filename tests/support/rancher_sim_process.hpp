// The Rancher simulator (tests/sim) as a child process of an integration test, with its control
// API wrapped for the tests. The simulator STANDS IN FOR RANCHER 1.x — no Rancher server can run
// here; it is built to design/rancher-api.md. Every test that uses it says so.
#pragma once

#include "support.hpp"

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certherd::testing {

using sim_reply = loopback_reply;

/// \brief A certificate as the simulator holds it (read from /_sim/state).
struct sim_certificate {
  std::string id;
  std::string name;
  std::string state;
  std::string fingerprint;  ///< certFingerprint, as Rancher computes it (SHA-1 with ':')
  std::string cert;
};

class rancher_sim {
 public:
  struct options {
    std::filesystem::path dir;          ///< log and port file go here
    std::filesystem::path haproxy_dir;  ///< tests/harness/start-haproxy's directory, or empty
    bool reload_on_certificate_update = false;
    int ping_ms = 5000;
    int coalesce_ms = 1000;
  };
  explicit rancher_sim(options o);
  ~rancher_sim();
  rancher_sim(const rancher_sim&) = delete;
  rancher_sim& operator=(const rancher_sim&) = delete;

  /// \brief What a service account's CATTLE_URL would hold: the host-registration URL (/v1).
  std::string cattle_url() const;
  std::string log() const;
  static constexpr const char* access_key = "SIMACCESSKEY0001";
  static constexpr const char* secret_key = "sim-secret-key-never-logged-4f9a";

  sim_reply call(const std::string& method, const std::string& target,
                 const std::string& body = {}) const;

  std::string add_service(const std::string& name,
                          const std::map<std::string, std::string>& labels);
  void set_labels(const std::string& id, const std::map<std::string, std::string>& labels);
  void remove_service(const std::string& id);
  std::string add_load_balancer(const std::string& name, const std::vector<std::string>& cert_ids,
                                const std::string& default_id = {});
  void set_load_balancer_certificates(const std::string& id, const std::vector<std::string>& ids,
                                      const std::string& default_id = {});
  /// \brief Seeds a certificate that is already in Rancher (applied at once, state active).
  std::string seed_certificate(const std::string& name, const std::string& cert,
                               const std::string& chain, const std::string& key);
  void faults(const std::string& json);
  long stat(const std::string& counter) const;
  std::vector<sim_certificate> certificates() const;  ///< live ones (not removed)
  std::optional<sim_certificate> certificate_named(const std::string& name) const;

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::filesystem::path dir_;
};

/// \brief The haproxy test environment: tests/harness/start-haproxy in `dir` on a free port.
struct haproxy_process {
  explicit haproxy_process(std::filesystem::path dir);
  ~haproxy_process();
  std::filesystem::path dir;
  unsigned short port = 0;
};

}  // namespace certherd::testing
