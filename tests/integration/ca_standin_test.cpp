// The ACME stand-in in front of the real Pebble (tests/harness/ca-standin; a stand-in, named as
// such, for what Debian's Pebble 2.4.0 lacks): its directory adds renewalInfo and profiles to
// Pebble's, it serves the windows a test sets with their Retry-After, and it refuses new orders
// with rateLimited on demand — while every order it lets through is Pebble's, issued and valid.
#include "ca_standin_process.hpp"
#include "clients/acme/ari.hpp"
#include "clients/http/client.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

http::result<http::response> get(const std::string& url) {
  asio::io_context ioc;
  http::client_options o;
  o.ca_bundle = harness("CERTHERD_TEST_CA_BUNDLE");
  http::client c(ioc.get_executor(), o);
  std::optional<http::result<http::response>> out;
  asio::co_spawn(ioc, c.async_request({http::method::get, url, {}, {}}),
                 [&](std::exception_ptr e, http::result<http::response> r) {
                   if (e) std::rethrow_exception(e);
                   out.emplace(std::move(r));
                   ioc.stop();
                 });
  ioc.run_for(30s);
  if (!out) return http::error{{}, "did not complete"};
  return std::move(*out);
}

std::vector<std::string> issue_through(const ca_standin& ca, const temp_dir& tmp,
                                       const std::string& name) {
  auto args = issue_args(ca.directory(), tmp, {name});
  args.insert(args.end(), {"--webroot", harness("CERTHERD_TEST_WEBROOT")});
  return args;
}

TEST(CaStandin, AddsRenewalInfoAndProfilesToPebblesDirectory) {
  ca_standin ca({"classic=The 90-day profile", "shortlived=Six days"});
  auto dir = get(ca.directory());
  ASSERT_TRUE(dir) << dir.error().detail << ca.log();
  rapidjson::Document doc;
  doc.Parse(dir->body.c_str());
  ASSERT_TRUE(doc.IsObject()) << dir->body;
  ASSERT_TRUE(doc.HasMember("renewalInfo") && doc["renewalInfo"].IsString()) << dir->body;
  std::string renewal_info = doc["renewalInfo"].GetString();
  EXPECT_TRUE(renewal_info.starts_with(ca.directory().substr(0, ca.directory().size() - 4)))
      << renewal_info;
  ASSERT_TRUE(doc["meta"].HasMember("profiles")) << dir->body;
  EXPECT_STREQ(doc["meta"]["profiles"]["shortlived"].GetString(), "Six days");
  EXPECT_TRUE(std::string(doc["newOrder"].GetString()).starts_with("https://localhost:"))
      << "Pebble's own endpoints, named with the stand-in's address";

  auto none = get(renewal_info + "/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404u) << "no window set yet";
  ca.set_window("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "2026-01-02T04:00:00Z",
                "2026-01-03T04:00:00Z", 120);
  auto set = get(renewal_info + "/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200u);
  EXPECT_EQ(set->header_value("Retry-After"), "120");
  std::string why;
  auto w = acme::parse_renewal_info(set->body, why);
  ASSERT_TRUE(w) << why << set->body;
  EXPECT_EQ(w->end - w->start, 24h);
}

TEST(CaStandin, OrdersGoToPebbleAndAreRefusedOnDemand) {
  ca_standin ca;
  temp_dir tmp;
  auto first = unique_name("standin-a");
  auto ok = run_certherd(issue_through(ca, tmp, first));
  ASSERT_EQ(ok.code, 0) << ok.output << ca.log();
  EXPECT_TRUE(std::filesystem::exists(tmp / "out" / "fullchain.pem"));
  EXPECT_NE(ca.orders().find(first), std::string::npos) << ca.orders();

  ca.refuse_orders(1, 90);
  temp_dir again;
  auto refused = run_certherd(issue_through(ca, again, unique_name("standin-b")));
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("rateLimited"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("90 s"), std::string::npos)
      << "its Retry-After: " << refused.output;
  EXPECT_FALSE(std::filesystem::exists(again / "out" / "fullchain.pem"));
  EXPECT_NE(ca.stats().find(R"("refused_orders":1)"), std::string::npos) << ca.stats();

  auto after = run_certherd(issue_through(ca, again, unique_name("standin-c")));
  EXPECT_EQ(after.code, 0) << "only the next order was refused: " << after.output;
}

}  // namespace
}  // namespace certherd::testing
