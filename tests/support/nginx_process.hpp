// A private nginx (Debian's nginx, the real web server) for one test: its own folder, port and
// server blocks, so a test can stop it, misroute it or make it redirect without touching the
// harness's nginx, which every other test shares. Runs in the foreground (`daemon off`) as a
// child of the test, with an access log the test can read.
#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string>

namespace certherd::testing {

class nginx_process {
 public:
  /// \brief A port is chosen now; nothing runs until start().
  explicit nginx_process(std::filesystem::path dir);
  ~nginx_process();
  nginx_process(const nginx_process&) = delete;
  nginx_process& operator=(const nginx_process&) = delete;

  /// \brief Starts nginx (again) with `servers` as the server blocks of its http{} block; @PORT@
  /// in them is the port. Returns once it accepts connections.
  void start(const std::string& servers);
  /// \brief Stops it (SIGTERM, then SIGKILL) and waits for it; the port is free again.
  void stop();

  unsigned short port() const { return port_; }
  std::string address() const;  ///< 127.0.0.1:<port>
  /// \brief What the access log holds (one line a request: host, request line, status, agent).
  std::string access_log() const;

 private:
  std::filesystem::path dir_;
  unsigned short port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace certherd::testing
