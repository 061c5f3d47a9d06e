#include "support.hpp"

#include "pki/certificate.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace certherd::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using namespace std::chrono_literals;

std::string harness(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::runtime_error(fmt::format(
        "{} is not set: run the integration tests through scripts/test, which starts the real "
        "servers (tests/harness/start-servers)",
        name));
  }
  return v;
}

namespace {

// In a forked child: becomes the certherd binary with `args`.
[[noreturn]] void exec_certherd(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string bin = CERTHERD_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(bin.c_str(), argv.data());
  ::_exit(127);
}

}  // namespace

command_result run_certherd(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    exec_certherd(args);
  }
  ::close(fds[1]);
  command_result r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
    r.output.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

background_certherd::background_certherd(const std::vector<std::string>& args, const env_list& env,
                                         std::filesystem::path log)
    : log_(std::move(log)) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env)
      ::setenv(k.c_str(), v.c_str(), 1);
    exec_certherd(args);
  }
}

background_certherd::~background_certherd() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void background_certherd::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int background_certherd::wait(std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (pid_ > 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    ::usleep(20'000);
  }
  return -1;
}

std::string background_certherd::log() const {
  return slurp(log_);
}

int background_certherd::count(const std::string& fragment) const {
  return count_lines(log_, fragment);
}

int count_lines(const std::filesystem::path& file, const std::string& fragment) {
  std::istringstream in(slurp(file));
  int n = 0;
  for (std::string line; std::getline(in, line);)
    n += line.find(fragment) != std::string::npos;
  return n;
}

bool eventually(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::usleep(50'000);
  }
  return true;
}

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/certherd-it-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return fmt::format("{}-{}-{:x}-{}.example.com", prefix, ::getpid(), salt & 0xffff, counter++);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string verify_against(const std::string& cert_pem, const std::string& chain_pem,
                           const std::filesystem::path& root_pem) {
  auto leaf = pki::parse_pem_chain(cert_pem);
  if (!leaf) return "leaf: " + leaf.error().message();
  std::vector<pki::certificate> intermediates;
  if (!chain_pem.empty()) {
    auto chain = pki::parse_pem_chain(chain_pem);
    if (!chain) return "chain: " + chain.error().message();
    intermediates = *chain;
  }
  auto roots = pki::parse_pem_chain(slurp(root_pem));
  if (!roots) return "root: " + roots.error().message();
  auto ok = pki::verify_chain(leaf->front(), intermediates, *roots);
  return ok ? "" : ok.error().message();
}

namespace {

asio::awaitable<void> serve_plain(tcp::socket socket, std::string body, bool silent) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  if (silent) {  // hold the connection open, read nothing, answer nothing
    asio::steady_timer t(stream.get_executor(), std::chrono::minutes(5));
    co_await t.async_wait(tuple_awaitable);
    co_return;
  }
  for (;;) {
    bhttp::request<bhttp::string_body> req;
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, tuple_awaitable);
    if (ec) co_return;
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
    res.body() = body;
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    auto [wec, w] = co_await bhttp::async_write(stream, res, tuple_awaitable);
    if (wec || !req.keep_alive()) co_return;
  }
}

tcp::acceptor listen_loopback(asio::io_context& ioc) {
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a;
}

}  // namespace

test_http_server::test_http_server(asio::io_context& ioc, std::string body, bool silent)
    : acceptor_(listen_loopback(ioc)), accepted_(std::make_shared<int>(0)) {
  asio::co_spawn(
      ioc,
      [](tcp::acceptor& acceptor, std::shared_ptr<int> count, std::string body,
         bool silent) -> asio::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
          if (ec) co_return;
          ++*count;
          asio::co_spawn(acceptor.get_executor(), serve_plain(std::move(socket), body, silent),
                         asio::detached);
        }
      }(acceptor_, accepted_, std::move(body), silent),
      asio::detached);
}

unsigned short test_http_server::port() const {
  return acceptor_.local_endpoint().port();
}
void test_http_server::stop() {
  acceptor_.close();
}

test_tls_server::test_tls_server(asio::io_context& ioc, const pki::certificate& cert,
                                 const pki::private_key& key)
    : tls_(std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server)),
      acceptor_(listen_loopback(ioc)) {
  std::string cert_pem = cert.pem(), key_pem = key.to_pem();
  tls_->use_certificate_chain(asio::buffer(cert_pem));
  tls_->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem);
  asio::co_spawn(
      ioc,
      [](tcp::acceptor& acceptor,
         std::shared_ptr<asio::ssl::context> tls) -> asio::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
          if (ec) co_return;
          asio::co_spawn(
              acceptor.get_executor(),
              [](tcp::socket s, std::shared_ptr<asio::ssl::context> tls) -> asio::awaitable<void> {
                beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(s)), *tls);
                auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                             tuple_awaitable);
                if (hec) co_return;
                beast::flat_buffer buffer;
                bhttp::request<bhttp::string_body> req;
                auto [rec, n] = co_await bhttp::async_read(stream, buffer, req, tuple_awaitable);
                if (rec) co_return;
                bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
                res.body() = "ok";
                res.keep_alive(false);
                res.prepare_payload();
                co_await bhttp::async_write(stream, res, tuple_awaitable);
              }(std::move(socket), tls),
              asio::detached);
        }
      }(acceptor_, tls_),
      asio::detached);
}

unsigned short test_tls_server::port() const {
  return acceptor_.local_endpoint().port();
}
void test_tls_server::stop() {
  acceptor_.close();
}

unsigned short free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string served_fingerprint(unsigned short port, const std::string& sni, std::string& why,
                               std::string* answer) {
  try {
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_none);  // we record what is served, whatever it is
    asio::ssl::stream<tcp::socket> s(ioc, ctx);
    SSL_set_tlsext_host_name(s.native_handle(), sni.c_str());
    s.lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    s.handshake(asio::ssl::stream_base::client);
    X509* peer = SSL_get1_peer_certificate(s.native_handle());
    if (!peer) {
      why = "no peer certificate";
      return "";
    }
    unsigned char* der = nullptr;
    int len = i2d_X509(peer, &der);
    X509_free(peer);
    auto cert = pki::certificate::from_der(std::string_view(reinterpret_cast<char*>(der), len));
    OPENSSL_free(der);
    if (!cert) {
      why = "unparsable peer certificate";
      return "";
    }
    boost::system::error_code ec;
    if (answer) {
      std::string req = fmt::format("GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", sni);
      asio::write(s, asio::buffer(req));
      asio::read(s, asio::dynamic_buffer(*answer), ec);
    } else {
      s.shutdown(ec);  // the fingerprint is what we came for
    }
    return cert->fingerprint_sha256();
  } catch (const std::exception& e) {
    why = e.what();
    return "";
  }
}

loopback_reply loopback_call(unsigned short port, const std::string& method,
                             const std::string& target, const std::string& body) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.expires_after(30s);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  beast::http::request<beast::http::string_body> req(beast::http::string_to_verb(method), target,
                                                     11);
  req.set(beast::http::field::host, fmt::format("127.0.0.1:{}", port));
  req.set(beast::http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  beast::http::write(s, req);
  beast::flat_buffer buf;
  beast::http::response<beast::http::string_body> rsp;
  beast::http::read(s, buf, rsp);
  return {rsp.result_int(), rsp.body()};
}

pid_t spawn_logged(std::vector<std::string> args, const std::filesystem::path& log) {
  // Emptied here, before the child exists: a caller that waits for a line in the log must never
  // read the line an earlier child under the same name (a port used again) left there.
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (fd >= 0) ::close(fd);
  return pid;
}

void stop_child(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

env_list certherd_env(const temp_dir& tmp, const std::string& domains, const std::string& directory,
                      const std::string& root) {
  return {{"DOMAINS", domains},
          {"ACME_DIRECTORY", directory},
          {"ACME_ROOTS", root},
          {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
          {"STATE_DIR", (tmp / "state").string()},
          {"OUTPUT_DIR", (tmp / "out").string()},
          {"LOG_LEVEL", "info"}};
}

std::vector<std::string> issue_args(const std::string& directory, const temp_dir& tmp,
                                    const std::vector<std::string>& names) {
  std::vector<std::string> args{"issue",
                                "--directory",
                                directory,
                                "--ca-bundle",
                                harness("CERTHERD_TEST_CA_BUNDLE"),
                                "--out",
                                (tmp / "out").string(),
                                "--state-dir",
                                (tmp / "state").string(),
                                "--timeout",
                                "60"};
  for (const auto& n : names) {
    args.push_back("-d");
    args.push_back(n);
  }
  return args;
}

}  // namespace certherd::testing
