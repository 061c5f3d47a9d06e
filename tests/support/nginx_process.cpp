#include "nginx_process.hpp"

#include "support.hpp"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace certherd::testing {

namespace {

bool accepts(unsigned short port) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

std::string replaced(std::string text, const std::string& what, const std::string& with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

}  // namespace

nginx_process::nginx_process(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_ / "tmp");
  port_ = free_port();
}

nginx_process::~nginx_process() {
  stop();
}

std::string nginx_process::address() const {
  return fmt::format("127.0.0.1:{}", port_);
}

std::string nginx_process::access_log() const {
  return slurp(dir_ / "access.log");
}

void nginx_process::start(const std::string& servers) {
  if (pid_ > 0) throw std::logic_error("nginx is running");
  const std::string d = dir_.string();
  std::ofstream(dir_ / "nginx.conf") << fmt::format(
      R"(daemon off;
{}
worker_processes 1;
pid {}/nginx.pid;
error_log {}/error.log warn;
events {{ worker_connections 64; }}
http {{
  log_format line '$host "$request" $status "$http_user_agent"';
  access_log {}/access.log line;
  client_body_temp_path {}/tmp/body;
  proxy_temp_path {}/tmp/proxy;
  fastcgi_temp_path {}/tmp/fastcgi;
  uwsgi_temp_path {}/tmp/uwsgi;
  scgi_temp_path {}/tmp/scgi;
{}
}}
)",
      ::geteuid() == 0 ? "user root;" : "", d, d, d, d, d, d, d, d,
      replaced(servers, "@PORT@", std::to_string(port_)));
  pid_ = spawn_logged({"/usr/sbin/nginx", "-p", d, "-e", d + "/error.log", "-c", d + "/nginx.conf"},
                      dir_ / "nginx.out");
  for (int i = 0; i < 200; ++i) {
    // Ours, not another process's on a port that was free a moment ago: nginx is still running.
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("nginx exited at start; see " + d + "/error.log");
    }
    if (accepts(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("nginx did not come up; see " + d + "/error.log and nginx.out");
}

void nginx_process::stop() {
  if (pid_ <= 0) return;
  stop_child(pid_);
  pid_ = -1;
}

}  // namespace certherd::testing
