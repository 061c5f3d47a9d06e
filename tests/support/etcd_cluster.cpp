#include "etcd_cluster.hpp"

#include "support.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>

namespace certherd::testing {
namespace {

std::string shell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run: " + command);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (status) *status = rc;
  return out;
}

void make_tls(const std::filesystem::path& tls) {
  std::filesystem::create_directories(tls);
  std::string d = tls.string();
  std::string script = fmt::format(
      R"(set -e; cd {0}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=certherd test etcd CA" -keyout ca.key -out ca.pem 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > server.cnf
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=etcd" \
  -keyout server.key -out server.csr 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile server.cnf -out server.pem 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.cnf
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=certherd" \
  -keyout client.key -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile client.cnf -out client.pem 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=stranger" -keyout stranger.key -out stranger.pem 2>/dev/null
)",
      d);
  std::ofstream(tls / "make.sh") << script;
  int status = 0;
  shell("bash " + (tls / "make.sh").string() + " 2>&1", &status);
  if (status != 0) throw std::runtime_error("cannot make the etcd test certificates in " + d);
}

}  // namespace

etcd_cluster::etcd_cluster(options o) : options_(std::move(o)), dir_(options_.dir) {
  std::filesystem::create_directories(dir_);
  if (options_.tls) make_tls(dir_ / "tls");
  std::set<unsigned short> taken;
  auto fresh = [&taken] {
    for (;;) {
      auto p = free_port();
      if (taken.insert(p).second) return p;
    }
  };
  for (int i = 0; i < options_.members; ++i) {
    member m;
    m.name = fmt::format("m{}", i);
    m.client_port = fresh();
    m.peer_port = fresh();
    members_.push_back(m);
  }
  for (int i = 0; i < options_.members; ++i)
    spawn(i, true);
  for (int i = 0; i < options_.members; ++i)
    wait_healthy(i);
}

etcd_cluster::~etcd_cluster() {
  for (int i = 0; i < size(); ++i) {
    if (members_[i].pid > 0) {
      ::kill(members_[i].pid, SIGCONT);
      ::kill(members_[i].pid, SIGKILL);
      ::waitpid(members_[i].pid, nullptr, 0);
    }
  }
}

std::string etcd_cluster::endpoint(int i) const {
  return fmt::format("{}://127.0.0.1:{}", scheme(), members_.at(i).client_port);
}

std::string etcd_cluster::endpoints() const {
  std::string out;
  for (int i = 0; i < size(); ++i)
    out += (i ? "," : "") + endpoint(i);
  return out;
}

void etcd_cluster::spawn(int i, bool initial) {
  auto& m = members_.at(i);
  std::string cluster;
  for (const auto& other : members_) {
    cluster += fmt::format("{}{}=http://127.0.0.1:{}", cluster.empty() ? "" : ",", other.name,
                           other.peer_port);
  }
  std::vector<std::string> args = {"/usr/bin/etcd",
                                   "--name",
                                   m.name,
                                   "--data-dir",
                                   (dir_ / m.name).string(),
                                   "--listen-client-urls",
                                   endpoint(i),
                                   "--advertise-client-urls",
                                   endpoint(i),
                                   "--listen-peer-urls",
                                   fmt::format("http://127.0.0.1:{}", m.peer_port),
                                   "--initial-advertise-peer-urls",
                                   fmt::format("http://127.0.0.1:{}", m.peer_port),
                                   "--initial-cluster",
                                   cluster,
                                   "--initial-cluster-token",
                                   dir_.filename().string(),
                                   "--initial-cluster-state",
                                   "new",
                                   "--logger",
                                   "zap",
                                   "--log-level",
                                   "warn"};
  (void)initial;  // a member with data ignores the initial-cluster flags
  if (options_.tls) {
    auto tls = dir_ / "tls";
    for (auto& a :
         std::vector<std::string>{"--cert-file", (tls / "server.pem").string(), "--key-file",
                                  (tls / "server.key").string(), "--trusted-ca-file",
                                  (tls / "ca.pem").string(), "--client-cert-auth"})
      args.push_back(a);
  }
  m.pid = spawn_logged(args, dir_ / (m.name + ".log"));
  m.paused = false;
}

void etcd_cluster::wait_healthy(int i) const {
  for (int attempt = 0; attempt < 300; ++attempt) {
    std::string tls;
    if (options_.tls) {
      tls = fmt::format("--cacert {} --cert {} --key {} ", ca_file().string(),
                        client_cert().string(), client_key().string());
    }
    int status = 0;
    shell(fmt::format("curl -sf --max-time 2 {}{}/health 2>/dev/null", tls, endpoint(i)), &status);
    if (status == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error(fmt::format("etcd member {} did not become healthy; see {}", i,
                                       (dir_ / (members_.at(i).name + ".log")).string()));
}

void etcd_cluster::kill(int i) {
  auto& m = members_.at(i);
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGCONT);
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

void etcd_cluster::start(int i) {
  if (members_.at(i).pid > 0) throw std::logic_error("etcd member is running");
  spawn(i, false);
  // A member alone cannot say it is healthy (no quorum); it is up when it accepts connections.
  for (int attempt = 0; attempt < 300; ++attempt) {
    int status = 0;
    shell(fmt::format("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{}' 2>/dev/null",
                      members_.at(i).client_port),
          &status);
    if (status == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error(fmt::format("etcd member {} did not start again", i));
}

void etcd_cluster::pause(int i) {
  auto& m = members_.at(i);
  if (m.pid > 0 && !m.paused) {
    ::kill(m.pid, SIGSTOP);
    m.paused = true;
  }
}

void etcd_cluster::resume(int i) {
  auto& m = members_.at(i);
  if (m.pid > 0 && m.paused) {
    ::kill(m.pid, SIGCONT);
    m.paused = false;
  }
}

bool etcd_cluster::running(int i) const {
  return members_.at(i).pid > 0 && !members_.at(i).paused;
}

std::string etcd_cluster::etcdctl(const std::string& args) const {
  std::string eps;
  for (int i = 0; i < size(); ++i) {
    if (running(i)) eps += (eps.empty() ? "" : ",") + endpoint(i);
  }
  std::string tls;
  if (options_.tls) {
    tls = fmt::format(" --cacert={} --cert={} --key={}", ca_file().string(), client_cert().string(),
                      client_key().string());
  }
  auto err = dir_ / "etcdctl.err";
  std::string command =
      fmt::format("ETCDCTL_API=3 etcdctl --endpoints={}{} {} 2>{}", eps, tls, args, err.string());
  int status = 0;
  std::string out = shell(command, &status);
  if (status != 0) throw std::runtime_error(command + ": " + slurp(err));
  return out;
}

}  // namespace certherd::testing
