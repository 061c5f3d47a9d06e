// The built-in HTTP-01 responder answering real HTTP requests on loopback: only published tokens,
// GET only, withdrawn tokens gone, bad listen addresses refused.
#include "clients/acme/http01_responder.hpp"
#include "clients/http/client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace certherd::acme {
namespace {

namespace asio = boost::asio;

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
