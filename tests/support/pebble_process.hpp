// A private Pebble (Debian's pebble 2.4.0, the real CA server) for one test: its own ports, its
// own log, so the test can count the orders it created, the validations it made and the
// certificates it issued, kill it with SIGKILL and start it again on the same ports (Pebble keeps
// everything in memory: a restarted Pebble has forgotten every account and order, and has new
// roots). DNS is the harness's; HTTP-01 is validated against the harness's nginx (the webroot)
// unless the test names another port.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string>

namespace certherd::testing {

class pebble_process {
 public:
  struct options {
    std::filesystem::path dir;  ///< config, log and root go here
    int nonce_reject_percent = 0;
    int authz_reuse_percent = 50;
    int validity_seconds = 7776000;
    /// The port Pebble validates HTTP-01 on (its httpPort); 0: the harness's nginx.
    unsigned short http_port = 0;
  };
  explicit pebble_process(options o);
  ~pebble_process();
  pebble_process(const pebble_process&) = delete;
  pebble_process& operator=(const pebble_process&) = delete;

  /// \brief Starts Pebble (again) on its ports and waits until it answers.
  void start();
  /// \brief SIGKILL: every account, order and key Pebble held is gone.
  void kill();

  std::string directory_url() const;  ///< https://localhost:<port>/dir
  unsigned short port() const { return port_; }
  std::filesystem::path root_file() const { return dir_ / "root.pem"; }
  /// \brief Orders Pebble created ("Added order"), over every start.
  int orders() const;
  /// \brief Certificates Pebble issued ("Issued certificate serial"), over every start.
  int issued() const;
  /// \brief HTTP-01 validations Pebble made of `host` (it fetched its challenge URL).
  int validations_of(const std::string& host) const;
  /// \brief Requests Pebble handled on `path` ("POST /sign-me-up": newAccount, "POST
  /// /order-plz": newOrder), over every start.
  int requests(const std::string& method_and_path) const;
  std::string log() const;

 private:
  int count(const std::string& fragment) const;
  options options_;
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  unsigned short management_port_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
};

}  // namespace certherd::testing
