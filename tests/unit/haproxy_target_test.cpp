// The HAProxy target against a scripted runtime API (a Unix socket served here, answering as
// HAProxy 2.6 does): a transaction whose commit times out or is refused is aborted, so it never
// blocks the next certificate (issue 9, defect 9). The real HAProxy is in the integration tests.
#include "reconcilers/haproxy_target.hpp"

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fstream>

#include <filesystem>
#include <functional>
#include <memory>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;
using namespace std::chrono_literals;

// Answers each command with `answer(command)`; nullopt leaves the connection hanging.
class scripted_haproxy {
 public:
  scripted_haproxy(asio::io_context& ioc, fs::path socket,
                   std::function<std::optional<std::string>(const std::string&)> answer)
      : acceptor_(ioc, local::endpoint(socket.string())), answer_(std::move(answer)) {
    asio::co_spawn(ioc, accept(), asio::detached);
  }
  std::vector<std::string> verbs;  // each command's first line
  void stop() { acceptor_.close(); }

 private:
  asio::awaitable<void> accept() {
    while (acceptor_.is_open()) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(local::socket socket) {
    std::string command;
    char buf[4096];
    while (true) {
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      command.append(buf, n);
      bool payload = command.find("<<") != std::string::npos;
      if (payload ? command.ends_with("\n\n") : command.ends_with("\n")) break;
    }
    verbs.push_back(command.substr(0, command.find_first_of("<\n")));
    auto a = answer_(command);
    if (!a) {  // hang: keep the socket open until the client gives up
      hung_.push_back(std::make_shared<local::socket>(std::move(socket)));
      co_return;
    }
    co_await asio::async_write(socket, asio::buffer(*a), asio::as_tuple(asio::use_awaitable));
  }
  local::acceptor acceptor_;
  std::function<std::optional<std::string>(const std::string&)> answer_;
  std::vector<std::shared_ptr<local::socket>> hung_;
};

struct fixture {
  fs::path dir = fs::temp_directory_path() / ("certherd-hap-" + std::to_string(::getpid()));
  asio::io_context ioc;
  pki::trust_anchors anchors;
  fixture() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~fixture() { fs::remove_all(dir); }
  haproxy_target_options options() const {
    haproxy_target_options o;
    o.socket = (dir / "admin.sock").string();
    o.crt_list = dir / "crt-list.txt";
    o.cert_dir = dir / "certherd";
    o.timeout = 300ms;
    return o;
  }
  outcome<> push(haproxy_target& t, const std::string& host) {
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    auto cert = *pki::make_self_signed(key, {host}, now, 24h);
    outcome<> out = fail(failure_kind::internal, "not run");
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          std::vector<pki::certificate> chain{cert};
          std::vector<std::string> own;
          out = co_await t.async_push(host, std::move(chain), key, std::move(own));
          ioc.stop();  // the scripted HAProxy would keep the context busy
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run_for(10s);
    ioc.restart();
    return out;
  }
};

std::optional<std::string> haproxy_answer(const std::string& c, bool commit_hangs) {
  if (c.starts_with("show ssl cert")) return std::string("Can't display the certificate\n");
  if (c.starts_with("new ssl cert")) return std::string("New empty certificate store!\n");
  if (c.starts_with("set ssl cert")) return std::string("Transaction created for certificate!\n");
  if (c.starts_with("commit ssl cert")) {
    if (commit_hangs) return std::nullopt;
    return std::string("Committing...\nError: the certificate is not valid\n");
  }
  if (c.starts_with("abort ssl cert")) return std::string("Transaction aborted!\n");
  if (c.starts_with("show ssl crt-list")) return std::string("# empty\n");
  if (c.starts_with("add ssl crt-list")) return std::string("Inserting certificate\nSuccess!\n");
  return std::string("Unknown command\n");
}

bool aborted_after_commit(const std::vector<std::string>& verbs) {
  for (std::size_t i = 0; i + 1 < verbs.size(); ++i) {
    if (verbs[i].starts_with("commit ssl cert") && verbs[i + 1].starts_with("abort ssl cert"))
      return true;
  }
  return false;
}

TEST(HaproxyTarget, CommitThatTimesOutIsAborted) {
  fixture f;
  scripted_haproxy hap(f.ioc, f.dir / "admin.sock",
                       [](const std::string& c) { return haproxy_answer(c, true); });
  haproxy_target t(f.ioc.get_executor(), f.anchors, f.options());
  auto r = f.push(t, "a.example.com");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().kind, failure_kind::transport) << "no answer is transport";
  EXPECT_TRUE(aborted_after_commit(hap.verbs)) << "the open transaction must be aborted";
}

TEST(HaproxyTarget, RefusedCommitIsAborted) {
  fixture f;
  scripted_haproxy hap(f.ioc, f.dir / "admin.sock",
                       [](const std::string& c) { return haproxy_answer(c, false); });
  haproxy_target t(f.ioc.get_executor(), f.anchors, f.options());
  auto r = f.push(t, "a.example.com");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, failure_kind::target_refused) << "HAProxy answered: a refusal";
  EXPECT_TRUE(aborted_after_commit(hap.verbs));
  // The file is certherd's: it was recorded as such before it was written.
  std::ifstream owned(f.dir / "certherd" / haproxy_target::kOwnedList);
  std::string line;
  std::getline(owned, line);
  EXPECT_EQ(line, "a.example.com.pem");
}

}  // namespace
}  // namespace certherd::reconcilers
