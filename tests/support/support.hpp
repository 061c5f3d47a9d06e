// Shared pieces of the integration tests: the harness's addresses (tests/harness/start-servers
// exports them; a missing one fails the test rather than skipping it), running the certherd
// binary, temporary directories, and two tiny loopback servers for client tests where the real
// servers cannot show a property (connections counted, a server that never answers).
#pragma once

#include "pki/certificate.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace certherd::testing {

/// Environment variables a child process gets on top of the test's own.
using env_list = std::vector<std::pair<std::string, std::string>>;

/// \brief The value of a harness variable; throws when unset (scripts/test sets them all).
std::string harness(const char* name);

struct command_result {
  int code = -1;
  std::string output;  ///< stdout and stderr together
};

/// \brief Runs the certherd binary with `args`, waiting for it to exit.
command_result run_certherd(const std::vector<std::string>& args);

/// \brief certherd running in the background with extra environment variables, its output
/// going to a file; killed (SIGKILL) on destruction if still running.
class background_certherd {
 public:
  background_certherd(const std::vector<std::string>& args, const env_list& env,
                      std::filesystem::path log);
  ~background_certherd();
  void signal(int sig);
  pid_t pid() const { return pid_; }
  /// \brief Waits for the exit; returns its code, or -1 if still running after `limit`.
  int wait(std::chrono::seconds limit);
  std::string log() const;
  /// \brief How many lines of the log contain `fragment`.
  int count(const std::string& fragment) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

/// \brief A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_port();

/// What a loopback control API answered.
struct loopback_reply {
  unsigned status = 0;
  std::string body;
};

/// \brief One plain HTTP/1.1 request (a JSON body) to 127.0.0.1:port, as the simulators'
/// control APIs take them.
loopback_reply loopback_call(unsigned short port, const std::string& method,
                             const std::string& target, const std::string& body = {});

/// \brief Starts `args` (args[0] a path) as a child with stdout and stderr to `log`, which is
/// emptied before the child starts.
pid_t spawn_logged(std::vector<std::string> args, const std::filesystem::path& log);

/// \brief SIGTERM, up to 2 s to exit, then SIGKILL; the child is reaped either way.
void stop_child(pid_t pid);

/// \brief A TLS handshake with 127.0.0.1:port and SNI `sni`; returns the served leaf's SHA-256,
/// or "" (with `why`) on any failure. With `answer`, also sends `GET /` and reads the answer.
std::string served_fingerprint(unsigned short port, const std::string& sni, std::string& why,
                               std::string* answer = nullptr);

/// \brief Polls `done` every 50 ms until it holds or `limit` passes; returns whether it held.
bool eventually(const std::function<bool()>& done, std::chrono::seconds limit);

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

/// \brief `certherd run` for `domains` (comma-separated) from `directory`, whose certificates
/// chain to `root`, proved through the harness's webroot (nginx), with STATE_DIR and OUTPUT_DIR
/// under `tmp` (tmp/state, tmp/out).
env_list certherd_env(const temp_dir& tmp, const std::string& domains,
                      const std::string& directory = harness("CERTHERD_TEST_DIRECTORY"),
                      const std::string& root = harness("CERTHERD_TEST_ROOT"));

/// \brief `certherd issue` from `directory` for `names` into tmp/out (state in tmp/state),
/// trusting the harness's CA bundle, with a 60 s timeout; add a challenge mode.
std::vector<std::string> issue_args(const std::string& directory, const temp_dir& tmp,
                                    const std::vector<std::string>& names);

/// \brief A fresh name under example.com, unique across runs and parallel harnesses.
std::string unique_name(const std::string& prefix);

std::string slurp(const std::filesystem::path& p);

/// \brief How many lines of `file` contain `fragment`.
int count_lines(const std::filesystem::path& file, const std::string& fragment);

/// \brief Verifies a PEM chain file pair against a PEM root file; empty string when it verifies.
std::string verify_against(const std::string& cert_pem, const std::string& chain_pem,
                           const std::filesystem::path& root_pem);

/// \brief A plain HTTP/1.1 server on 127.0.0.1 that answers every request with `body`, keeps
/// connections alive, and counts the connections it accepted. With `silent`, it accepts and
/// never answers.
class test_http_server {
 public:
  test_http_server(boost::asio::io_context& ioc, std::string body, bool silent = false);
  unsigned short port() const;
  int accepted() const { return *accepted_; }
  void stop();

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<int> accepted_;
};

/// \brief An HTTPS server on 127.0.0.1 presenting `cert` (signed by `key`) and answering "ok".
class test_tls_server {
 public:
  test_tls_server(boost::asio::io_context& ioc, const pki::certificate& cert,
                  const pki::private_key& key);
  unsigned short port() const;
  void stop();

 private:
  std::shared_ptr<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace certherd::testing
