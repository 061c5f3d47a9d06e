// The HTTP client on real sockets: Pebble's HTTPS listener (verification on, CA bundle), nginx
// (plain HTTP, body limit), and two loopback servers of the test for what the real ones cannot
// show: connections counted for reuse, a server that never answers, and host-name mismatch.
#include "clients/http/client.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

http::result<http::response> fetch(asio::io_context& ioc, http::client& c, std::string url,
                                   http::method m = http::method::get) {
  std::optional<http::result<http::response>> out;
  asio::co_spawn(ioc, c.async_request({m, std::move(url), {}, {}}),
                 [&](std::exception_ptr e, http::result<http::response> r) {
                   if (e) std::rethrow_exception(e);
                   out.emplace(std::move(r));
                   ioc.stop();  // the test servers keep the context busy forever
                 });
  ioc.restart();
  ioc.run_for(60s);
  if (!out) return http::error{{}, "did not complete"};
  return std::move(*out);
}

TEST(HttpClient, PebbleDirectoryOverVerifiedTls) {
  asio::io_context ioc;
  http::client_options o;
  o.ca_bundle = harness("CERTHERD_TEST_CA_BUNDLE");
  http::client c(ioc.get_executor(), o);
  auto r = fetch(ioc, c, harness("CERTHERD_TEST_DIRECTORY"));
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->status, 200u);
  EXPECT_NE(r->body.find("newOrder"), std::string::npos);
  auto head = fetch(ioc, c, harness("CERTHERD_TEST_DIRECTORY"), http::method::head);
  ASSERT_TRUE(head) << head.error().detail;
  EXPECT_TRUE(head->body.empty());
}

TEST(HttpClient, RefusesUnknownIssuer) {
  asio::io_context ioc;
  http::client c(ioc.get_executor(), {});  // system trust store: Pebble's test CA is not in it
  auto r = fetch(ioc, c, harness("CERTHERD_TEST_DIRECTORY"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("certificate verify failed"), std::string::npos)
      << r.error().detail;
}

TEST(HttpClient, ChecksTheHostName) {
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto right = *pki::make_self_signed(key, {"127.0.0.1"}, now, 1h);
  auto wrong = *pki::make_self_signed(key, {"elsewhere.example.com"}, now, 1h);
  temp_dir tmp;
  { std::ofstream(tmp / "ca.pem") << right.pem() << wrong.pem(); }
  asio::io_context ioc;
  test_tls_server good(ioc, right, key), bad(ioc, wrong, key);
  http::client_options o;
  o.ca_bundle = (tmp / "ca.pem").string();
  http::client c(ioc.get_executor(), o);
  auto ok = fetch(ioc, c, fmt::format("https://127.0.0.1:{}/", good.port()));
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->body, "ok");
  auto mismatch = fetch(ioc, c, fmt::format("https://127.0.0.1:{}/", bad.port()));
  ASSERT_FALSE(mismatch) << "a trusted certificate for another name must be refused";
  EXPECT_NE(mismatch.error().detail.find("certificate verify failed"), std::string::npos);
}

TEST(HttpClient, ReusesConnectionsPerOrigin) {
  asio::io_context ioc;
  test_http_server server(ioc, "hello");
  http::client c(ioc.get_executor(), {});
  for (int i = 0; i < 5; ++i) {
    auto r = fetch(ioc, c, fmt::format("http://127.0.0.1:{}/x{}", server.port(), i));
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->body, "hello");
  }
  EXPECT_EQ(server.accepted(), 1) << "five sequential requests share one connection";
  c.close_idle();
  ASSERT_TRUE(fetch(ioc, c, fmt::format("http://127.0.0.1:{}/", server.port())));
  EXPECT_EQ(server.accepted(), 2);
}

TEST(HttpClient, ServerThatNeverAnswersTimesOut) {
  asio::io_context ioc;
  test_http_server server(ioc, "", /*silent=*/true);
  http::client_options o;
  o.step_timeout = 500ms;
  http::client c(ioc.get_executor(), o);
  auto r = fetch(ioc, c, fmt::format("http://127.0.0.1:{}/", server.port()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("timed out"), std::string::npos) << r.error().detail;
}

TEST(HttpClient, WholeOperationDeadline) {
  asio::io_context ioc;
  test_http_server server(ioc, "", /*silent=*/true);
  http::client_options o;
  o.step_timeout = 60s;
  o.operation_timeout = 400ms;
  http::client c(ioc.get_executor(), o);
  auto r = fetch(ioc, c, fmt::format("http://127.0.0.1:{}/", server.port()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("timed out"), std::string::npos) << r.error().detail;
}

TEST(HttpClient, BodyLimitAgainstNginx) {
  auto file = std::filesystem::path(harness("CERTHERD_TEST_WEBROOT")) /
              fmt::format("big-{}.bin", ::getpid());
  { std::ofstream(file) << std::string(300 * 1024, 'x'); }
  asio::io_context ioc;
  http::client_options o;
  o.body_limit = 256 * 1024;
  http::client c(ioc.get_executor(), o);
  auto url = harness("CERTHERD_TEST_NGINX") + "/" + file.filename().string();
  auto r = fetch(ioc, c, url);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("over 262144 bytes"), std::string::npos) << r.error().detail;
  o.body_limit = 1024 * 1024;
  http::client roomy(ioc.get_executor(), o);
  auto fine = fetch(ioc, roomy, url);
  ASSERT_TRUE(fine) << fine.error().detail;
  EXPECT_EQ(fine->body.size(), 300u * 1024);
  auto missing = fetch(ioc, roomy, harness("CERTHERD_TEST_NGINX") + "/no-such-file");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404u) << "an HTTP error status is a response, not a failure";
  std::filesystem::remove(file);
}

TEST(HttpClient, RejectsBadUrls) {
  asio::io_context ioc;
  http::client c(ioc.get_executor(), {});
  EXPECT_FALSE(fetch(ioc, c, "ftp://example.com/"));
  EXPECT_FALSE(fetch(ioc, c, "not a url"));
  EXPECT_FALSE(fetch(ioc, c, "https:///nohost"));
}

}  // namespace
}  // namespace certherd::testing
