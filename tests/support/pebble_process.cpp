#include "pebble_process.hpp"

#include "support.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace certherd::testing {

namespace {
unsigned short port_of(const std::string& url) {
  auto colon = url.rfind(':');
  return static_cast<unsigned short>(std::stoi(url.substr(colon + 1)));
}
}  // namespace

pebble_process::pebble_process(options o) : options_(std::move(o)), dir_(options_.dir) {
  std::filesystem::create_directories(dir_);
  port_ = free_port();
  do {
    management_port_ = free_port();
  } while (management_port_ == port_);
  std::string tls = harness("CERTHERD_TEST_DIR") + "/tls";
  std::ofstream(dir_ / "pebble.json") << fmt::format(
      R"({{"pebble": {{
  "listenAddress": "127.0.0.1:{}",
  "managementListenAddress": "127.0.0.1:{}",
  "certificate": "{}/pebble.pem",
  "privateKey": "{}/pebble.key",
  "httpPort": {},
  "tlsPort": {},
  "ocspResponderURL": "",
  "certificateValidityPeriod": {}
}}}})",
      port_, management_port_, tls, tls,
      options_.http_port ? options_.http_port : port_of(harness("CERTHERD_TEST_NGINX")),
      free_port(), options_.validity_seconds);
  start();
}

pebble_process::~pebble_process() {
  kill();
}

void pebble_process::start() {
  if (pid_ > 0) throw std::logic_error("pebble is running");
  std::string dns = harness("CERTHERD_TEST_DNS");
  auto log = dir_ / "pebble.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setenv("PEBBLE_VA_NOSLEEP", "1", 1);
    ::setenv("PEBBLE_WFE_NONCEREJECT", std::to_string(options_.nonce_reject_percent).c_str(), 1);
    ::setenv("PEBBLE_AUTHZREUSE", std::to_string(options_.authz_reuse_percent).c_str(), 1);
    std::string config = (dir_ / "pebble.json").string();
    ::execlp("pebble", "pebble", "-config", config.c_str(), "-dnsserver", dns.c_str(), nullptr);
    ::_exit(127);
  }
  ++starts_;
  // Up when its management port serves the root it issues from.
  std::string ca = harness("CERTHERD_TEST_CA_BUNDLE");
  std::string fetch =
      fmt::format("curl -sf --cacert {} https://127.0.0.1:{}/roots/0 -o {} 2>/dev/null", ca,
                  management_port_, root_file().string());
  for (int i = 0; i < 200; ++i) {
    if (std::system(fetch.c_str()) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("pebble did not come up; see " + (dir_ / "pebble.log").string());
}

void pebble_process::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string pebble_process::directory_url() const {
  return fmt::format("https://localhost:{}/dir", port_);
}

std::string pebble_process::log() const {
  return slurp(dir_ / "pebble.log");
}

int pebble_process::count(const std::string& fragment) const {
  return count_lines(dir_ / "pebble.log", fragment);
}

int pebble_process::orders() const {
  return count("Added order");
}

int pebble_process::issued() const {
  return count("Issued certificate serial");
}

int pebble_process::requests(const std::string& method_and_path) const {
  return count(method_and_path + " -> calling handler()");
}

int pebble_process::validations_of(const std::string& host) const {
  // Pebble's VA logs each validation it starts: "Pulled a task from the Tasks queue: ...
  // Identifier:acme.Identifier{Type:"dns", Value:"<host>"}".
  return count(fmt::format("Value:\"{}\"}}", host));
}

}  // namespace certherd::testing
