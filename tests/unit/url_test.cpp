// One URL parser for the HTTP client and the event websocket (clients/http/url).
#include "clients/http/url.hpp"

#include <gtest/gtest.h>

namespace certherd::http {
namespace {

url_parts must(std::string_view url, url_family f = url_family::http) {
  std::string why;
  auto p = parse_url(url, f, why);
  EXPECT_TRUE(p) << url << ": " << why;
  return p.value_or(url_parts{});
}

TEST(Url, PercentEncodingLeavesOnlyUnreservedCharacters) {
  EXPECT_EQ(percent_encode("a-Z.0_~"), "a-Z.0_~");
  EXPECT_EQ(percent_encode("a b/&=?#%"), "a%20b%2F%26%3D%3F%23%25");
  EXPECT_EQ(percent_encode("\xc3\xa9\n"), "%C3%A9%0A");
  EXPECT_EQ(percent_encode(""), "");
}

TEST(Url, DefaultsAndExplicitPorts) {
  auto a = must("https://acme-v02.api.letsencrypt.org/directory");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.port, "443");
  EXPECT_EQ(a.target, "/directory");
  EXPECT_EQ(a.host_header, "acme-v02.api.letsencrypt.org");
  EXPECT_EQ(a.origin, "https://acme-v02.api.letsencrypt.org:443");
  EXPECT_FALSE(a.ip_literal);
  auto b = must("http://127.0.0.1:8080?x=1");
  EXPECT_FALSE(b.tls);
  EXPECT_TRUE(b.ip_literal);
  EXPECT_EQ(b.target, "/?x=1");
  EXPECT_EQ(b.host_header, "127.0.0.1:8080");
}

TEST(Url, Ipv6KeepsItsBracketsWhereTheyBelong) {
  auto p = must("http://[::1]:9090/status");
  EXPECT_EQ(p.host, "::1");
  EXPECT_TRUE(p.ip_literal);
  EXPECT_EQ(p.host_header, "[::1]:9090");
  EXPECT_EQ(p.origin, "http://[::1]:9090");
  auto w = must("wss://[2001:db8::1]/v2-beta/projects/1a5/subscribe", url_family::websocket);
  EXPECT_TRUE(w.tls);
  EXPECT_EQ(w.port, "443");
  EXPECT_EQ(w.host_header, "[2001:db8::1]");
  EXPECT_EQ(w.target, "/v2-beta/projects/1a5/subscribe");
}

TEST(Url, WrongSchemesAndNoHostAreRefusedWithTheReason) {
  std::string why;
  EXPECT_FALSE(parse_url("ws://rancher/v1", url_family::http, why));
  EXPECT_NE(why.find("only http and https"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("https://rancher/v1", url_family::websocket, why));
  EXPECT_NE(why.find("only ws and wss"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("http:///path", url_family::http, why));
  EXPECT_NE(why.find("no host"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("not a url", url_family::http, why));
  EXPECT_NE(why.find("invalid URL"), std::string::npos) << why;
}

}  // namespace
}  // namespace certherd::http
