// The HTTP server's request handling without a socket (clients/http/server serve_bytes): the
// same parser limits and responses a connection gets, bytes in and bytes out.
#include "clients/http/server.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace certherd::http {
namespace {

server_reply echo(const server_request& r) {
  if (r.target == "/throw") throw std::runtime_error("handler failed");
  return {200, "text/plain", r.method + " " + r.target + " auth=" + r.authorization};
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

TEST(HttpServerBytes, PipelinedRequestsAreAnsweredInOrder) {
  auto out = serve_bytes(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
      "t\r\n\r\n",
      echo);
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2u) << out;
  auto a = out.find("GET /a auth=");
  auto b = out.find("GET /b auth=Bearer t");
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_NE(out.find("X-Content-Type-Options: nosniff"), std::string::npos);
}

TEST(HttpServerBytes, ConnectionCloseEndsTheConnection) {
  auto out = serve_bytes(
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
      echo);
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 1u) << out;
  EXPECT_EQ(out.find("GET /b"), std::string::npos);
}

TEST(HttpServerBytes, HeadHasNoBody) {
  auto out = serve_bytes("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n", echo);
  EXPECT_NE(out.find("200 OK"), std::string::npos);
  EXPECT_EQ(out.find("HEAD /a auth="), std::string::npos) << out;
}

TEST(HttpServerBytes, OversizedHeaderIs431AndBodyIs413) {
  auto big_header = "GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(9000, 'p') + "\r\n\r\n";
  auto out = serve_bytes(big_header + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n", echo);
  EXPECT_NE(out.find("431"), std::string::npos) << out;
  EXPECT_EQ(out.find("GET /b"), std::string::npos);

  auto big_body =
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'b');
  out = serve_bytes(big_body, echo);
  EXPECT_NE(out.find("413"), std::string::npos) << out;
  auto chunked = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                 std::string(2048, 'c') + "\r\n0\r\n\r\n";
  out = serve_bytes(chunked, echo);
  EXPECT_NE(out.find("413"), std::string::npos) << out;
}

TEST(HttpServerBytes, AThrowingHandlerIs500AndTheConnectionGoesOn) {
  auto out =
      serve_bytes("GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", echo);
  EXPECT_NE(out.find("500 Internal Server Error"), std::string::npos) << out;
  EXPECT_EQ(out.find("handler failed"), std::string::npos)
      << "the exception text reached the client";
  EXPECT_NE(out.find("GET /b"), std::string::npos) << out;
}

TEST(HttpServerBytes, GarbageAndIncompleteRequestsGetNoAnswer) {
  EXPECT_EQ(serve_bytes("\x16\x03\x01\x02\x00garbage\r\n\r\n", echo), "");
  EXPECT_EQ(serve_bytes("GET /a HTTP/1.1\r\nHost: x\r\n", echo), "");
  EXPECT_EQ(serve_bytes("", echo), "");
}

}  // namespace
}  // namespace certherd::http
