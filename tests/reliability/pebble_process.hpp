// A private Pebble (Debian's pebble 2.4.0, the real CA server) for one reliability test: its own
// ports, its own log, so the test can count the orders it created and the certificates it
// issued, kill it with SIGKILL and start it again on the same ports (Pebble keeps everything in
// memory: a restarted Pebble has forgotten every account and order, and has new roots). DNS and
// the HTTP-01 web server (nginx on the webroot) are the harness's.
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
