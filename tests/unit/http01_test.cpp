// HTTP-01 presenters: the webroot presenter's files (content, mode, withdrawal, unsafe tokens)
// and the built-in responder answering real HTTP requests on loopback.
#include "clients/acme/http01.hpp"
#include "clients/acme/http01_responder.hpp"
#include "clients/http/client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <sstream>

namespace certherd::acme {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

TEST(Http01, TokensAreBase64UrlOnly) {
  EXPECT_TRUE(is_safe_token("abcXYZ019-_"));
  EXPECT_FALSE(is_safe_token(""));
  EXPECT_FALSE(is_safe_token("../etc/passwd"));
  EXPECT_FALSE(is_safe_token("a/b"));
  EXPECT_FALSE(is_safe_token("a.b"));
  EXPECT_FALSE(is_safe_token(std::string(300, 'a')));
}

TEST(Http01, WebrootPublishesAndWithdraws) {
  char tmpl[] = "/tmp/certherd-webroot-XXXXXX";
  fs::path root = ::mkdtemp(tmpl);
  ::umask(077);  // a strict umask must not hide the file from the web server
  webroot_presenter p(root);
  std::string detail;
  ASSERT_FALSE(p.present({"a.example", "tok_1", "tok_1.thumb"}, detail)) << detail;
  auto file = root / ".well-known" / "acme-challenge" / "tok_1";
  std::ifstream in(file);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "tok_1.thumb");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  p.remove({"a.example", "tok_1"});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_empty(root / ".well-known" / "acme-challenge")) << "no temporaries left";

  EXPECT_TRUE(p.present({"a.example", "../../evil", "x"}, detail));
  EXPECT_FALSE(fs::exists(root / "evil"));
  ::umask(022);
  fs::remove_all(root);
}

TEST(Http01, WebrootReportsUnwritableDirectory) {
  webroot_presenter p("/proc/certherd-no-such-dir");
  std::string detail;
  EXPECT_TRUE(p.present({"a.example", "tok", "k"}, detail));
  EXPECT_NE(detail.find("/proc/certherd-no-such-dir"), std::string::npos) << detail;
}

TEST(Http01, ResponderServesOnlyPublishedTokens) {
  asio::io_context ioc;
  http01_responder responder(ioc.get_executor(), "127.0.0.1:0");
  std::string detail;
  ASSERT_FALSE(responder.present({"a.example", "tok-9", "tok-9.thumb"}, detail));
  http::client client(ioc.get_executor(), {});
  auto base = fmt::format("http://127.0.0.1:{}", responder.port());
  std::vector<http::result<http::response>> got;
  asio::co_spawn(
      ioc,
      [](http::client& c, std::string base, http01_responder& r,
         std::vector<http::result<http::response>>& out) -> asio::awaitable<void> {
        http::request a{http::method::get, base + "/.well-known/acme-challenge/tok-9", {}, {}};
        out.push_back(co_await c.async_request(a));
        http::request b{http::method::get, base + "/.well-known/acme-challenge/other", {}, {}};
        out.push_back(co_await c.async_request(b));
        http::request d{http::method::post, base + "/.well-known/acme-challenge/tok-9", {}, "x"};
        out.push_back(co_await c.async_request(d));
        r.remove({"a.example", "tok-9"});
        out.push_back(co_await c.async_request(a));
        r.stop();
      }(client, base, responder, got),
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run_for(std::chrono::seconds(30));
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0]) << got[0].error().detail;
  EXPECT_EQ(got[0]->status, 200u);
  EXPECT_EQ(got[0]->body, "tok-9.thumb");
  EXPECT_EQ(got[1]->status, 404u);
  ASSERT_TRUE(got[2]) << "a request with a body is refused";
  EXPECT_NE(got[2]->status, 200u);
  ASSERT_TRUE(got[3]);
  EXPECT_EQ(got[3]->status, 404u) << "a withdrawn token is gone";
}

TEST(Http01, ResponderRefusesBadListenAddress) {
  asio::io_context ioc;
  EXPECT_THROW(http01_responder(ioc.get_executor(), "nonsense"), std::runtime_error);
  EXPECT_THROW(http01_responder(ioc.get_executor(), "127.0.0.1:99999"), std::runtime_error);
}

}  // namespace
}  // namespace certherd::acme
