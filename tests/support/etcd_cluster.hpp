// A private etcd cluster for one test: Debian's etcd-server 3.4 (the real thing), N members on
// loopback with ports of their own, data under the test's folder, optionally TLS with client
// certificates required (a throw-away CA made here with openssl). Members can be killed with
// SIGKILL, stopped (SIGSTOP: a member that hangs) and started again on their data, so a test can
// take quorum away and give it back. `etcdctl` (Debian's etcd-client) reads what certherd wrote.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string>
#include <vector>

namespace certherd::testing {

class etcd_cluster {
 public:
  struct options {
    std::filesystem::path dir;
    int members = 3;
    bool tls = false;  ///< clients must present a certificate of the cluster's CA
  };
  explicit etcd_cluster(options o);
  ~etcd_cluster();
  etcd_cluster(const etcd_cluster&) = delete;
  etcd_cluster& operator=(const etcd_cluster&) = delete;

  /// \brief Every member's client URL, comma-separated (ETCD_ENDPOINTS).
  std::string endpoints() const;
  std::string endpoint(int member) const;
  int size() const { return static_cast<int>(members_.size()); }

  /// \brief SIGKILL; the member's data stays.
  void kill(int member);
  /// \brief Starts a member again on its data and waits until it answers.
  void start(int member);
  /// \brief SIGSTOP / SIGCONT: a member that hangs without closing its connections.
  void pause(int member);
  void resume(int member);
  bool running(int member) const;

  /// \brief Runs etcdctl (API v3) against every running member with the test's TLS files;
  /// returns its standard output, or throws naming the command and its error output.
  std::string etcdctl(const std::string& args) const;

  // With tls: the CA and a client certificate and key clients may present.
  std::filesystem::path ca_file() const { return dir_ / "tls" / "ca.pem"; }
  std::filesystem::path client_cert() const { return dir_ / "tls" / "client.pem"; }
  std::filesystem::path client_key() const { return dir_ / "tls" / "client.key"; }
  /// \brief A client certificate of another CA (to be refused).
  std::filesystem::path stranger_cert() const { return dir_ / "tls" / "stranger.pem"; }
  std::filesystem::path stranger_key() const { return dir_ / "tls" / "stranger.key"; }

 private:
  struct member {
    std::string name;
    unsigned short client_port = 0;
    unsigned short peer_port = 0;
    pid_t pid = -1;
    bool paused = false;
  };
  void spawn(int i, bool initial);
  void wait_healthy(int i) const;
  std::string scheme() const { return options_.tls ? "https" : "http"; }

  options options_;
  std::filesystem::path dir_;
  std::vector<member> members_;
};

}  // namespace certherd::testing
