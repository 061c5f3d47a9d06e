// Fuzz target: the HTTP server's request handling (clients/http/server serve_bytes: Beast's
// parser with certherd's header and body limits, the response every answer gets), bytes in and
// bytes out with no socket, behind the status token check the controller puts in front of
// /status. Properties: no crash; every answer is a well-formed HTTP/1.x status line; at most one
// answer per request; the token never appears in an answer.
#include "check.hpp"
#include "clients/http/server.hpp"
#include "controller/run_command.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace certherd;

namespace {
constexpr std::string_view kToken = "fuzz-status-token-0123456789";

http::server_reply answer(const http::server_request& r) {
  if (r.target.starts_with("/status") &&
      !controller::status_token_accepted(r.authorization, kToken)) {
    return {401, "text/plain", "needs the token\n", "no-store", {"Bearer realm=\"certherd\""}};
  }
  return {200, "text/plain", r.method + " " + r.target + "\n"};
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto out = http::serve_bytes(input, answer);
  if (out.empty()) return 0;
  FUZZ_CHECK(out.starts_with("HTTP/1."));
  FUZZ_CHECK(out.find(kToken) == std::string::npos || input.find(kToken) != std::string::npos);
  std::size_t answers = 0;
  for (auto at = out.find("\r\nServer: certherd\r\n"); at != std::string::npos;
       at = out.find("\r\nServer: certherd\r\n", at + 1))
    ++answers;
  FUZZ_CHECK(answers <= size / 16 + 1);  // a request is at least "GET / HTTP/1.1\r\n\r\n"
  return 0;
}
